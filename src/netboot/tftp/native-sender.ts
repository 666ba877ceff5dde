// Transfers in a native sender process (native/tftp-sender.c), one per transfer: the server keeps
// every decision (request, name check, open, options, limits, logs) and hands over only the
// lock-step DATA/ACK loop, which costs Node ~20 µs per datagram and the sender a few syscalls.
import { spawn } from 'node:child_process';
import { helperEnv } from '../../lib/unprivileged-account.js';
import { MAX_RETRANSMITS, type TransferEnd } from './transfer.js';
import { nativeHelper } from '../../lib/native-helper.js';


/** The sender (native/tftp-sender.c); ARDESIA_TFTP_SENDER overrides, "off" disables it. Without a path, `why` says why. */
export function tftpSenderBinary(env: NodeJS.ProcessEnv = process.env): { path?: string; why?: string } {
  return nativeHelper('tftp-sender', 'ARDESIA_TFTP_SENDER', env);
}

export interface NativeTransferSpec {
  size: number;
  blksize: number;
  timeoutMs: number;
  /** Accepted options: sent as the OACK; empty means block 1 goes first. */
  oack: Record<string, string>;
  localAddress: string;
  client: { address: string; port: number };
}

/** The sender's argv (see the header of native/tftp-sender.c). */
export function senderArgs(spec: NativeTransferSpec, parentPid: number, maxResends = MAX_RETRANSMITS): string[] {
  return [
    spec.localAddress, spec.client.address, String(spec.client.port), String(spec.size), String(spec.blksize),
    String(spec.timeoutMs), String(maxResends), String(parentPid), ...Object.entries(spec.oack).flat(),
  ];
}

/** The sender's one end line: "ok BYTES BLOCKS RESENDS" or "failed RESENDS WHY". */
export function parseSenderEnd(line: string): TransferEnd | undefined {
  const ok = /^ok (\d+) (\d+) (\d+)$/.exec(line);
  if (ok) return { ok: true, bytes: Number(ok[1]), blocks: Number(ok[2]), resends: Number(ok[3]) };
  const failed = /^failed (\d+) (.+)$/.exec(line);
  if (failed) return { ok: false, why: failed[2]!, resends: Number(failed[1]) };
  return undefined;
}

/** What a sender that printed no end line says about its exit. */
export function senderExitWhy(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `sender killed by ${signal}` : `sender exited with code ${code} without an end line`;
}

export interface NativeTransfer {
  readonly pid: number | undefined;
  readonly done: Promise<TransferEnd>;
  /** Ends the transfer: the sender sends the client an ERROR and exits; `quiet`: it exits without one. */
  abort(quiet?: boolean): void;
}

/** Starts a sender on the open file `fd` (the caller closes its own copy once `done` settles). */
export function startNativeTransfer(binary: string, spec: NativeTransferSpec, fd: number): NativeTransfer {
  const child = spawn(binary, senderArgs(spec, process.pid), { stdio: ['ignore', 'pipe', 'inherit', fd], env: helperEnv() });
  let output = '';
  child.stdout!.setEncoding('latin1');
  child.stdout!.on('data', (chunk: string) => (output += chunk));
  const done = new Promise<TransferEnd>((resolve) => {
    child.once('error', (err) => resolve({ ok: false, why: `sender: ${err.message}`, resends: 0 }));
    child.once('close', (code, signal) => {
      const end = parseSenderEnd(output.split('\n')[0] ?? '');
      resolve(end ?? { ok: false, why: senderExitWhy(code, signal), resends: 0 });
    });
  });
  return {
    pid: child.pid,
    done,
    abort: (quiet = false) => {
      // SIGKILL is the quiet end: SIGTERM's handler sends the ERROR.
      if (child.exitCode === null && child.signalCode === null) child.kill(quiet ? 'SIGKILL' : 'SIGTERM');
    },
  };
}

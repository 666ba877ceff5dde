// What a NAT guest tries, typed on its serial console through the real daemon's console WebSocket (shared by
// guest-nat-host and guest-nat-allow): TCP with busybox's nc, UDP with its tftp, answers read back from the console.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type TestDaemon, until } from '../helpers/daemon.js';
import { cliJson } from '../images/support.js';

export const OK = /^HTTP\/1\.[01] 200/;

let probeId = 700;

export function consoleText(daemon: TestDaemon, vm: string): string {
  const log = join(daemon.dataDir, 'logs', vm, 'console.log');
  return existsSync(log) ? readFileSync(log, 'utf8') : '';
}

/** Types `command` on the guest's console; its output must end in one line R<id>[…] (the typed line itself shows R$((…)), not R<id>). */
export async function onConsole(daemon: TestDaemon, vm: string, command: string): Promise<string> {
  const id = ++probeId;
  const ws = daemon.api().webSocket(`/v1/vms/${vm}/console`);
  const line = `${command}; echo "R$((${id}-1+1))[\${r:-none}]"`;
  let seen = '';
  try {
    return await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer to ${line} on ${vm}; saw: ${seen}`)), 90_000);
      ws.on('open', () => ws.send(`${line}\n`));
      ws.on('message', (d: Buffer) => {
        seen += d.toString();
        const m = new RegExp(`R${id}\\[([^\\]\\r\\n]*)\\]`).exec(seen);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      ws.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  } finally {
    ws.close();
  }
}

/** The status line a guest gets back from GET / at host:port over TCP, or "none" when it could not connect. */
export function tcpProbe(daemon: TestDaemon, vm: string, host: string, port: number): Promise<string> {
  return onConsole(daemon, vm, `r=$(printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 30 ${host} ${port} 2>/dev/null | tr -d '\\r' | grep -m 1 '^HTTP/')`);
}

/** A probe expected to connect, tried up to five times: a slow TCG guest under load must not pass for a refusal. */
export async function tcpReach(daemon: TestDaemon, vm: string, host: string, port: number): Promise<string> {
  let got = '';
  for (let i = 0; i < 5 && !got.startsWith('HTTP/'); i++) {
    // A refusal can come at once from a guest starved under load (rehearsals saw three in a row, twice): tries spaced out.
    if (i > 0) await new Promise((r) => setTimeout(r, 5000));
    got = await tcpProbe(daemon, vm, host, port);
  }
  return got;
}

/** Sends one UDP datagram naming `tag` to host:port (busybox's nc has no UDP: its tftp sends a read request); true when `seen()` then holds the tag. */
export async function udpReaches(daemon: TestDaemon, vm: string, host: string, port: number, tag: string, seen: () => string): Promise<boolean> {
  await onConsole(daemon, vm, `r=$(tftp -g -r ${tag} -l /tmp/${tag} ${host} ${port} 2>&1 | head -c 40)`);
  // The datagram left before tftp gave up; the service prints it at once.
  await new Promise((r) => setTimeout(r, 500));
  return seen().includes(tag);
}

/** A field of /proc/PID/status of the VM's QEMU (Uid, Gid, Seccomp …): its values. */
export function qemuStatus(daemon: TestDaemon, vm: string, field: string): string[] {
  const pid = readFileSync(join(daemon.dataDir, 'runtime', vm, 'qemu.pid'), 'utf8').trim();
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(`${field}:`))!;
  return line.split(/\s+/).slice(1);
}

export async function bootDesktop(daemon: TestDaemon, name: string, flags: string[]): Promise<void> {
  await cliJson(daemon, ['desktop', 'create', name, '--image', 'bb', ...flags]);
  await cliJson(daemon, ['desktop', 'start', name]);
  await until(`desktop ${name} has its NAT lease`, () => /ARDESIA-NET bound 10\.0\.2\.15/.test(consoleText(daemon, name)), 300_000, 500)
    .catch((err: Error) => { throw new Error(`${err.message}; console: ${consoleText(daemon, name).slice(-1500)}`); });
}

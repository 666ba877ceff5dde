// Saved VM states between the controller and an agent's host, over a stream the agent dials back (agent-streams.ts):
// `vm send` of a VM on an agent's host comes from there through the controller (sealed anew with the site's key), and
// a state saved on the controller's host goes to the agent's host a start was placed on, to be resumed there.
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { VmCommand } from '../contract/agent.js';
import type { VmSpec } from '../contract/vm.js';
import type { SavedStateManifest } from '../hypervisor/saved-state/manifest.js';
import { withTimeout } from '../lib/with-timeout.js';
import { wsReadable, wsSendAll } from '../lib/ws-pipe.js';
import { type SavedStateFiles, savedStateResealed, savedStateSendStream } from '../vms/vm-saved-state.js';
import type { AgentStreams } from './agent-streams.js';
import type { RemoteStateDriver } from '../vms/remote-vm.js';

/** A running VM is saved on its host before its state is sent (a TCG guest of a few GiB: a minute or more). */
const STATE_SEND_DIAL_MS = 600_000;
/** A state's stream is dialled at once when it goes to the agent (nothing is saved first). */
const STATE_RECEIVE_DIAL_MS = 30_000;
/** How long a whole state may take to cross the link (GiB over a slow link), and to be checked on its host. */
const STATE_STREAM_ANSWER_MS = 30 * 60_000;

/** After a stream was cut, how long the agent's answer saying why is waited for. */
const REFUSAL_WITHIN_MS = 10_000;

type Commands = { command(host: string, vm: string, command: VmCommand, answerWithinMs: number): Promise<boolean> };

export class RemoteStates implements RemoteStateDriver {
  constructor(
    private readonly commands: Commands,
    private readonly streams: Pick<AgentStreams, 'expect' | 'cancel'>,
    /** The site's key (vm-saved-state.ts stateSealKey), read when a state is relayed. */
    private readonly sealKey: () => Buffer,
    private readonly log: Logger,
  ) {}

  /** vm send of a VM on `host`: its agent saves it if it runs, then streams its state here; the state is deleted there once
   *  all of it went out. Resolves with the state (its header sealed with the site's key) once its stream is dialled. */
  async send(host: string, vm: string): Promise<Readable> {
    const { id, secret, socket } = this.streams.expect(host, vm, 'state', STATE_SEND_DIAL_MS);
    const answer = this.commands.command(host, vm, { op: 'state-send', stream: { id, secret } }, STATE_SEND_DIAL_MS + STATE_STREAM_ANSWER_MS);
    // A refusal (no state, a state that failed to save) answers before any dial.
    const ws = await Promise.race([socket, answer.then(() => Promise.reject(new Error(`host ${host}'s agent answered the send of vm ${vm} without sending it`)))]).catch((err: unknown) => {
      this.streams.cancel(id, 'the send failed');
      throw err;
    });
    void answer.then(
      () => this.log.info({ vm, host }, `vm ${vm}'s state sent from host ${host}, and deleted there`),
      (err: Error) => this.log.warn({ vm, host, err: err.message }, `vm ${vm}'s state from host ${host} was not sent whole (it stays there): ${err.message}`),
    );
    const sealed = savedStateResealed(this.sealKey(), vm);
    const from = wsReadable(ws, `vm ${vm}'s state from host ${host}`);
    from.once('error', (err) => sealed.destroy(err)); // a cut stream fails the reply, never ends it short
    sealed.once('close', () => from.destroy());
    return from.pipe(sealed);
  }

  /** A state saved here, for `spec`'s VM, into the states/ of `host`: checked there as `vm receive` checks one, and
   *  resolves once it is stored there (its next start there resumes it). The copy here is the caller's to delete. */
  async push(host: string, spec: VmSpec, files: SavedStateFiles, manifest: SavedStateManifest): Promise<void> {
    const vm = spec.name;
    const { id, secret, socket } = this.streams.expect(host, vm, 'state', STATE_RECEIVE_DIAL_MS);
    const answer = this.commands.command(host, vm, { op: 'state-receive', spec, stream: { id, secret } }, STATE_RECEIVE_DIAL_MS + STATE_STREAM_ANSWER_MS);
    answer.catch(() => undefined); // awaited below, once the bytes went
    const t0 = Date.now();
    try {
      const ws = await Promise.race([socket, answer.then(() => Promise.reject(new Error(`host ${host}'s agent answered before it took vm ${vm}'s state`)))]);
      ws.resume(); // handed over paused: its close answer is read
      await wsSendAll(ws, savedStateSendStream(files, manifest) as AsyncIterable<Buffer>, 'end of state');
    } catch (err) {
      this.streams.cancel(id, 'the state was not sent');
      // The agent's own refusal says more than the cut stream it caused.
      await withTimeout(answer, REFUSAL_WITHIN_MS);
      throw err;
    }
    await answer;
    this.log.info({ vm, host, bytes: manifest.state.bytes, ms: Date.now() - t0 }, `vm ${vm}'s saved state moved to host ${host} (${Math.round(manifest.state.bytes / 2 ** 20)} MiB)`);
  }
}

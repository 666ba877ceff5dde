// QEMU 7.2's own clipboard agent (the `qemu-vdagent` chardev behind noVNC's paste) blocks migration ("The vdagent
// chardev doesn't yet support migration"). A save unplugs it (port, then chardev) just before; the restoring launch
// is the identical argv without the two, and plugs them back once the state is loaded, before the vCPUs run.
import { CLIPBOARD_AGENT_PORT, clipboardAgentArgs, GUEST_PORT_ID } from '../qemu/argv.js';
import type { QmpCommands } from '../qmp/commands.js';

const AGENT_CHARDEV_ID = 'vdagent0';
const AGENT_PORT_ID = 'vdagent0-port';

/** True when the argv has QEMU's own clipboard agent (a VM without a SPICE display). */
export function hasClipboardAgent(args: readonly string[]): boolean {
  return args.some((a, i) => args[i - 1] === '-chardev' && a.startsWith('qemu-vdagent,'));
}

/** The argv a running QEMU is identical to, from the argv it runs with (pure). One launched to receive a state
 *  (`-incoming`: a restore, or a live migration's arrival, found again after a restart) stands in for the argv it was
 *  launched from: without `-incoming`, and with the clipboard agent, plugged since the state was in, back where argv.ts
 *  puts it (after the guest channel's port) in a VM without a SPICE display. Any other argv is its own. */
export function identicalOfRunning(args: readonly string[], spice: boolean): string[] {
  const at = args.indexOf('-incoming');
  if (at < 0) return [...args];
  const out = [...args.slice(0, at), ...args.slice(at + 2)];
  const port = out.findIndex((a, i) => out[i - 1] === '-device' && a.startsWith(`virtserialport,id=${GUEST_PORT_ID},`));
  if (!spice && !hasClipboardAgent(out) && port >= 0) out.splice(port + 1, 0, ...clipboardAgentArgs(false));
  return out;
}

/** The argv without the agent's chardev and port (pure): what a restore launches, the rest identical. */
export function withoutClipboardAgent(args: readonly string[]): string[] {
  if (!hasClipboardAgent(args)) return [...args]; // a SPICE VM's port (same id) is SPICE's, and migrates
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const next = args[i + 1] ?? '';
    if ((args[i] === '-chardev' && next.startsWith('qemu-vdagent,')) || (args[i] === '-device' && next.startsWith(`virtserialport,id=${AGENT_PORT_ID},`))) {
      i++;
      continue;
    }
    out.push(args[i]!);
  }
  return out;
}

/** A virtio-serial port leaves without the guest's consent, but after device_del returns: DEVICE_DELETED says when. */
const PORT_UNPLUG_TIMEOUT_MS = 10_000;

/** With `partly`, a part already gone is no failure (an earlier migration unplugged it, and its agent died before the
 *  failure could plug it back). */
export async function clipboardAgentUnplug(qmp: QmpCommands, partly = false): Promise<void> {
  let onEvent: ((ev: { event: string; data?: Record<string, unknown> }) => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  const deleted = new Promise<void>((resolve, reject) => {
    onEvent = (ev) => ev.event === 'DEVICE_DELETED' && ev.data?.device === AGENT_PORT_ID && resolve();
    qmp.on('event', onEvent);
    timer = setTimeout(() => reject(new Error(`the clipboard agent's port was not removed within ${PORT_UNPLUG_TIMEOUT_MS / 1000} s`)), PORT_UNPLUG_TIMEOUT_MS);
  });
  deleted.catch(() => undefined);
  try {
    const gone = await qmp.deviceDel(AGENT_PORT_ID).then(() => false, (err: Error) => {
      if (partly && /DeviceNotFound/.test(err.message)) return true;
      throw err;
    });
    if (!gone) await deleted;
  } finally {
    clearTimeout(timer);
    if (onEvent) qmp.off('event', onEvent);
  }
  const chardev = qmp.chardevRemove(AGENT_CHARDEV_ID);
  await (partly ? chardev.catch(() => undefined) : chardev);
}

/** The agent as argv.ts's clipboardAgentArgs makes it, plugged into a running QEMU; with `partly`, what is missing of it. */
export async function clipboardAgentPlug(qmp: QmpCommands, partly = false): Promise<void> {
  const chardev = qmp.chardevAdd(AGENT_CHARDEV_ID, { type: 'qemu-vdagent', data: { clipboard: true, mouse: false } });
  await (partly ? chardev.catch(() => undefined) : chardev);
  const port = qmp.deviceAdd({ driver: 'virtserialport', id: AGENT_PORT_ID, bus: 'vser0.0', chardev: AGENT_CHARDEV_ID, name: CLIPBOARD_AGENT_PORT });
  await (partly ? port.catch(() => undefined) : port);
}

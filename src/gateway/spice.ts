// SPICE for native clients: a one-time password set over QMP, expired a few seconds after the
// client's main channel logs in (its other channels log in with the same password right after),
// and the virt-viewer file (.vv) that carries it to remote-viewer.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { z } from 'zod';
import { ArdesiaError } from '../contract/errors.js';
import type { VmSpec } from '../contract/vm.js';
import type { QmpDisplayProtocol } from '../hypervisor/qmp/commands.js';

/** An unused .vv stops working after this long. */
export const VV_PASSWORD_TTL_S = 60;
/** After the main channel logged in, the display, inputs, cursor … channels follow within this. */
export const SPICE_CHANNELS_GRACE_S = 5;
/** SPICE_CHANNEL_MAIN in spice-protocol. */
const SPICE_MAIN_CHANNEL = 1;
const PASSWORD_BYTES = 18;

export interface VirtViewerFile {
  host: string;
  /** The plain port (SPICE on loopback). */
  port?: number;
  /** The TLS port (SPICE off loopback: the only one). */
  tlsPort?: number;
  /** With tlsPort: the CA that signed QEMU's certificate (PEM) and that certificate's subject. */
  ca?: string;
  hostSubject?: string;
  password: string;
  title: string;
}

/** The [virt-viewer] file remote-viewer opens; it deletes the file once read (the password is in it). */
export function virtViewerFile(vv: VirtViewerFile): string {
  const line = (key: string, value: string | number) => `${key}=${String(value).replace(/[\r\n]+/g, ' ')}`;
  // virt-viewer reads the CA as one line with "\n" between the PEM lines.
  const tls = vv.tlsPort === undefined ? [] : [line('tls-port', vv.tlsPort), ...(vv.ca ? [line('ca', vv.ca.trim().split(/\r?\n/).join('\\n'))] : []), ...(vv.hostSubject ? [line('host-subject', vv.hostSubject)] : [])];
  return [
    '[virt-viewer]',
    line('type', 'spice'),
    line('host', vv.host),
    ...(vv.port === undefined ? [] : [line('port', vv.port)]),
    ...tls,
    line('password', vv.password),
    line('delete-this-file', 1),
    line('title', vv.title),
    line('release-cursor', 'shift+f12'),
    '',
  ].join('\n');
}

/** The host a client should dial: the listen address, or this machine's name when SPICE listens everywhere. */
export function advertisedHost(listen: string): string {
  return listen === '0.0.0.0' || listen === '::' ? hostname() : listen;
}

/** What the .vv flow needs of a running VM (VmRuntime has it). */
export interface SpiceTarget {
  spec: VmSpec;
  qmp: {
    execute(command: string, args?: Record<string, unknown>): Promise<unknown>;
    setPassword(protocol: QmpDisplayProtocol, password: string): Promise<void>;
    expirePassword(protocol: QmpDisplayProtocol, time: string): Promise<void>;
  };
  on(event: 'event', listener: (ev: { event: string; data?: Record<string, unknown> }) => void): unknown;
  off(event: 'event', listener: (ev: { event: string; data?: Record<string, unknown> }) => void): unknown;
}

const SpiceInfo = z.object({ enabled: z.boolean(), port: z.number().optional(), 'tls-port': z.number().optional() });

/** Sets a fresh password (the previous .vv of this VM stops working) and arms its expiry. */
export async function spiceOneTimeLogin(vm: SpiceTarget): Promise<Pick<VirtViewerFile, 'host' | 'port' | 'tlsPort' | 'password'>> {
  const spice = vm.spec.display?.spice;
  if (!spice) throw new ArdesiaError('SPICE_NOT_ENABLED', `vm ${vm.spec.name} has no SPICE display`);
  const info = SpiceInfo.safeParse(await vm.qmp.execute('query-spice'));
  if (!info.success || !info.data.enabled || (!info.data.port && !info.data['tls-port'])) {
    throw new ArdesiaError('SPICE_NOT_ENABLED', `vm ${vm.spec.name} runs without SPICE (it was started before the display was configured?)`);
  }
  const password = randomBytes(PASSWORD_BYTES).toString('base64url');
  await vm.qmp.setPassword('spice', password);
  await vm.qmp.expirePassword('spice', `+${VV_PASSWORD_TTL_S}`);
  expireAfterUse(vm);
  return { host: advertisedHost(spice.listen), port: info.data.port || undefined, tlsPort: info.data['tls-port'] || undefined, password };
}

const armed = new WeakMap<SpiceTarget, () => void>();

function expireAfterUse(vm: SpiceTarget): void {
  armed.get(vm)?.();
  const onEvent = (ev: { event: string; data?: Record<string, unknown> }) => {
    const client = ev.data?.client as Record<string, unknown> | undefined;
    if (ev.event !== 'SPICE_INITIALIZED' || client?.['channel-type'] !== SPICE_MAIN_CHANNEL) return;
    disarm();
    void vm.qmp.expirePassword('spice', `+${SPICE_CHANNELS_GRACE_S}`).catch(() => undefined); // VM gone: nothing to expire
  };
  const timer = setTimeout(() => disarm(), VV_PASSWORD_TTL_S * 1000);
  timer.unref();
  const disarm = () => {
    clearTimeout(timer);
    vm.off('event', onEvent);
    armed.delete(vm);
  };
  vm.on('event', onEvent);
  armed.set(vm, disarm);
}

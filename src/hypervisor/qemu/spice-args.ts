// The SPICE display of a VM (for native clients such as remote-viewer): ticketing stays on and no
// password is given on the command line, so nobody connects until the daemon sets a one-time one
// over QMP (set_password); until then QEMU refuses every client.
import { ArdesiaError } from '../../contract/errors.js';
import type { SpiceDisplaySpec } from '../../contract/vm.js';
import { isLoopbackHost } from '../../tls/listen-plan.js';
import { renderOption } from './qemu-options.js';

/** Off loopback SPICE speaks only TLS (passwords and screens cross the network); on loopback plain is enough. */
export const spiceUsesTls = (spice: SpiceDisplaySpec): boolean => !isLoopbackHost(spice.listen);

/** `x509Dir`: QEMU's credentials folder (ca-cert.pem, server-cert.pem, server-key.pem), needed off loopback. */
export function spiceArgs(vm: string, spice: SpiceDisplaySpec | undefined, port: number | undefined, x509Dir?: string): string[] {
  if (!spice) return [];
  const chosen = spice.port ?? port;
  if (chosen === undefined) throw new ArdesiaError('INTERNAL', `vm ${vm}: a SPICE display needs a port; pick a free one before building the command line`);
  // agent-mouse=off: the pointer is the VM's virtio tablet, not the guest agent (whose uinput the guest may lack).
  const common = { 'disable-ticketing': false, 'agent-mouse': false };
  if (!spiceUsesTls(spice)) return ['-spice', renderOption(undefined, { addr: spice.listen, port: chosen, ...common })];
  if (x509Dir === undefined) throw new ArdesiaError('INTERNAL', `vm ${vm}: SPICE off loopback needs its TLS credentials; make them before building the command line`);
  // Only tls-port, no port: every channel is encrypted, a plain client is never answered.
  return ['-spice', renderOption(undefined, { addr: spice.listen, 'tls-port': chosen, 'x509-dir': x509Dir, ...common })];
}

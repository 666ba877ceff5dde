// The SPICE display of a VM (for native clients such as remote-viewer): ticketing stays on and no
// password is given on the command line, so nobody connects until the daemon sets a one-time one
// over QMP (set_password); until then QEMU refuses every client.
import { ArdesiaError } from '../../contract/errors.js';
import type { SpiceDisplaySpec } from '../../contract/vm.js';
import { renderOption } from './qemu-options.js';

export function spiceArgs(vm: string, spice: SpiceDisplaySpec | undefined, port: number | undefined): string[] {
  if (!spice) return [];
  const chosen = spice.port ?? port;
  if (chosen === undefined) throw new ArdesiaError('INTERNAL', `vm ${vm}: a SPICE display needs a port; pick a free one before building the command line`);
  // agent-mouse=off: the pointer is the VM's virtio tablet, not the guest agent (whose uinput the guest may lack).
  return ['-spice', renderOption(undefined, { addr: spice.listen, port: chosen, 'disable-ticketing': false, 'agent-mouse': false })];
}

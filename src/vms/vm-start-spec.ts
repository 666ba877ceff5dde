// The spec a `vm start` runs: a defined VM's, with the start's own overrides, or a new transient VM's (vmctl start
// with -m/-d/-b, or -t: an instance of another VM), recorded before the start so that a daemon killed mid-start finds it.
import { ArdesiaError } from '../contract/errors.js';
import type { VmSpec, VmSpecInput } from '../contract/vm.js';
import type { Store } from '../store/db.js';
import { vmGet, vmInsert } from '../store/vms.js';
import { parseSpec } from './vm-status.js';

export async function specForStart(db: Store, name: string, adHoc?: Partial<VmSpecInput>, template?: string): Promise<{ spec: VmSpec; created: boolean }> {
  const existing = await vmGet(db, name);
  if (existing && template) throw new ArdesiaError('VM_EXISTS', `vm ${name} already exists; a template (-t) makes a new VM`);
  if (existing) return { spec: parseSpec({ ...existing.spec, ...adHoc, name }), created: false };
  let base: Partial<VmSpec> = {};
  if (template) {
    const parent = await vmGet(db, template);
    if (!parent) throw new ArdesiaError('VM_NOT_FOUND', `vm ${template} is not defined`);
    // vmctl: an instance inherits all but the exclusive options (disks, NIC addresses).
    base = { ...parent.spec, disks: [], nics: parent.spec.nics.map(({ mac: _mac, ifname: _ifname, ...nic }) => nic) };
  } else if (!adHoc || Object.keys(adHoc).length === 0) {
    throw new ArdesiaError('VM_NOT_FOUND', `vm ${name} is not defined; load a vm.conf or give -m/-d/-b to start it ad hoc`);
  }
  const spec = parseSpec({ ...base, ...adHoc, name, enabled: false });
  await vmInsert(db, { spec, source: template ? `instance of ${template}` : 'cli', transient: true });
  return { spec, created: true };
}

// What a start requested by a VM owner who is not an administrator must pass, in order: no swapped
// files or NICs, only their taps and bridges, their caps, then every file opened and checked by us.
import { realpathSync } from 'node:fs';
import { ArdesiaError } from '../contract/errors.js';
import type { StartCaller, VmSpec, VmSpecInput } from '../contract/vm.js';
import { lookupAccount } from '../auth/unix-accounts.js';
import { ownerSpecFilesCheck } from './owner-files.js';
import type { OpenedFileGuard } from '../hypervisor/qemu/process.js';
import { networkVerdict, overrideVerdict, type OwnerFileRules, type OwnerPolicy, ownerRulesFor, pathVerdict, quotaVerdict } from './owner-policy.js';
import type { VmConfined } from '../contract/agent.js';


export const isConfined = (caller: StartCaller | undefined): caller is StartCaller => caller !== undefined && !caller.admin;

export class OwnerConfinement {
  private readonly dataDir: string;

  constructor(
    private readonly policy: OwnerPolicy,
    dataDir: string,
  ) {
    // Checked paths are real ones: the data folder's own real path is what the deny rule must see.
    this.dataDir = realpathSync(dataDir);
  }

  /** Refuses start options that would replace the files or NICs an administrator defined. */
  overridesCheck(name: string, adHoc: Partial<VmSpecInput> | undefined): void {
    const refusal = overrideVerdict(name, adHoc);
    if (refusal) throw new ArdesiaError(refusal.code, refusal.message);
  }

  /** The spec QEMU gets: paths replaced by the ones checked; `running` are the owner's VMs already up. */
  async confine(principal: string, spec: VmSpec, running: readonly VmSpec[]): Promise<VmSpec> {
    const rules = this.rules(principal);
    const refusal = networkVerdict(rules, spec) ?? quotaVerdict(rules, spec, running);
    if (refusal) throw new ArdesiaError(refusal.code, refusal.message);
    return ownerSpecFilesCheck(rules, this.dataDir, spec);
  }

  /** The same rules applied to each file as the launch opens it, by its real path: a folder or link swapped
   *  between confine() and the open is caught there. */
  openedFileGuard(principal: string, vm: string): OpenedFileGuard {
    return ownerOpenedFileGuard(this.rules(principal), this.dataDir, vm);
  }

  /** What an agent's host checks a VM owner's start by (contract/agent.ts VmConfined): their folders, and this data folder. */
  confinedWire(principal: string): VmConfined {
    const { roots, denied } = this.rules(principal);
    return { principal, dataDir: this.dataDir, roots, denied };
  }

  private rules(principal: string) {
    // Unix groups, as vm.conf `owner user:group` means them (mayOperate reads the same).
    return ownerRulesFor(this.policy, this.dataDir, principal, lookupAccount(principal)?.groups ?? []);
  }
}

/** Each file a confined launch opens, checked by its real path against the owner's folders. */
export function ownerOpenedFileGuard(rules: OwnerFileRules, dataDir: string, vm: string): OpenedFileGuard {
  return (realPath, writable, named) => {
    const refusal = pathVerdict(rules, dataDir, realPath, writable ? 'write' : 'read', `vm ${vm}: ${named} (opened as ${realPath})`);
    if (refusal) throw new ArdesiaError(refusal.code, `${refusal.message}; it changed after it was checked`);
  };
}

/**
 * A VM owner's start placed on an agent's host, checked there as on the controller's (contract/agent.ts VmConfined): its
 * files opened and checked by the owner's folders (the shared data folder refused but for their own folder in it, and this
 * host's own data folder refused whole), and the guard that checks each again as the launch opens it.
 */
export async function confinedOnThisHost(confined: VmConfined, hostDataDir: string, spec: VmSpec): Promise<{ spec: VmSpec; guard: OpenedFileGuard }> {
  const rules: OwnerFileRules = { principal: confined.principal, roots: confined.roots, denied: [...confined.denied, realpathSync(hostDataDir)] };
  return { spec: await ownerSpecFilesCheck(rules, confined.dataDir, spec), guard: ownerOpenedFileGuard(rules, confined.dataDir, spec.name) };
}

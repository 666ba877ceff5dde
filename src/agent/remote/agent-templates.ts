// Restore templates on an agent's host: a pool's clone placed here loads the template the controller built, from the
// shared data folder. Its files are checked against the manifest the controller sent (the sha256 over the link is the
// trust anchor, not the folder), and its RAM (ram.bin) is loaded once per host into a sealed memfd of this host's own
// (shared-ram.ts), which every clone here maps privately; after an agent restart, the memfd its running clones map is
// held again instead (ram-adopt.ts). A memfd no desired VM names any more is let go; clones that run keep their own
// mapping of it.
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import type { VmRestoreFrom } from '../../contract/agent.js';
import { ArdesiaError } from '../../contract/errors.js';
import { failpointOn } from '../../lib/failpoint.js';
import { templateRamHold } from '../../hypervisor/saved-state/ram-adopt.js';
import type { RamHold } from '../../hypervisor/saved-state/shared-ram.js';
import { TemplateManifest, type TemplateToLoad } from '../../hypervisor/saved-state/template.js';
import type { HostImageChecks } from './image-checks.js';

/** Pure: the manifest the controller sent, parsed, and its three files in the one build folder; else VM_STATE_INVALID. */
export function templateOfRestore(from: VmRestoreFrom): TemplateManifest {
  const parsed = TemplateManifest.safeParse(from.manifest);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ArdesiaError('VM_STATE_INVALID', `the restore template sent for this start is not a template manifest (${issue ? `${issue.path.join('.')}: ${issue.message}` : 'invalid'}): is the controller of another Ardesia version?`);
  }
  const manifest = parsed.data;
  const dir = dirname(manifest.overlay.path);
  if (dirname(from.stream) !== dir || dirname(from.ramFile) !== dir) {
    throw new ArdesiaError('VM_STATE_INVALID', `template ${manifest.key}: its state ${from.stream} and RAM ${from.ramFile} are not in its build folder ${dir}`);
  }
  return manifest;
}

export class AgentTemplates {
  /** Each template build's RAM held on this host, by its ram.bin (a template rebuilt keeps its key, not its folder). */
  private readonly held = new Map<string, Promise<RamHold>>();

  constructor(private readonly checks: HostImageChecks, private readonly log: Logger) {}

  /** The template a clone here loads: its files checked (again only when their stat changed), its RAM held here. */
  async load(from: VmRestoreFrom): Promise<TemplateToLoad> {
    const manifest = templateOfRestore(from);
    await this.checks.verify([
      { path: from.stream, sha256: manifest.state.sha256 },
      { path: from.ramFile, sha256: manifest.ram.sha256 },
      { path: manifest.overlay.path, sha256: manifest.overlay.sha256 },
    ]);
    let hold = this.held.get(from.ramFile);
    if (!hold) {
      const t0 = Date.now();
      // A test's stand-in for a RAM that cannot be held here (ram-hold missing, no memory for the memfd).
      if (failpointOn('agent-template-ram-unloadable')) throw new ArdesiaError('VM_STATE_RESTORE_FAILED', `template ${manifest.key}: its RAM could not be held on this host (failpoint)`);
      const held = templateRamHold(from.ramFile, manifest.ram);
      hold = held.then((h) => h.hold);
      this.held.set(from.ramFile, hold);
      held.then(
        ({ adoptedFrom }) => {
          const how = adoptedFrom === undefined ? '' : ` (held again from a running clone's QEMU, pid ${adoptedFrom})`;
          this.log.info({ template: manifest.key, ramFile: from.ramFile, loadMs: Date.now() - t0, bytes: manifest.ram.bytes, adoptedFrom }, `template ${manifest.key}: its RAM is held on this host${how}`);
        },
        () => this.held.delete(from.ramFile), // tried again at the next start
      );
    }
    const ram = await hold;
    return { manifest, stream: from.stream, ram: ram.procPath, ramFile: from.ramFile };
  }

  /** Lets go of the RAM of every template build no desired VM names (`wanted`: their ram.bin). */
  release(wanted: ReadonlySet<string>): void {
    for (const [ramFile, hold] of this.held) {
      if (wanted.has(ramFile)) continue;
      this.held.delete(ramFile);
      void hold.then((h) => {
        h.close();
        this.log.info({ ramFile }, `template RAM ${ramFile}: no VM here wants it, it is let go`);
      }, () => undefined);
    }
  }

  close(): void {
    this.release(new Set());
  }
}

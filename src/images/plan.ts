// Pure decisions about version chains: flatten or overlay, who depends on a version, what gc may delete.
import { MAX_CHAIN_DEPTH } from '../contract/images.js';

export interface VersionNode {
  version: number;
  backingVersion: number | null;
  depth: number;
}

export interface UsageFacts {
  currentVersion: number | null;
  versions: VersionNode[];
  /** desktop name → the version its system disk is a clone of. */
  desktops: Array<{ name: string; version: number }>;
  /** The base of the open maintenance session, if any. */
  maintenanceBase: number | null;
}

/** How the next version is stored: a flat file, or an overlay on its base (depth stays bounded). */
export function publishLayout(base: VersionNode | undefined, flattenAsked: boolean): { flatten: boolean; depth: number; backingVersion: number | null } {
  if (!base || flattenAsked || base.depth + 1 > MAX_CHAIN_DEPTH) return { flatten: true, depth: 1, backingVersion: null };
  return { flatten: false, depth: base.depth + 1, backingVersion: base.version };
}

/** Everything that keeps a version from being deleted, said in words a person can act on. */
export function dependantsOf(version: number, facts: UsageFacts): string[] {
  const out: string[] = [];
  for (const d of facts.desktops) if (d.version === version) out.push(`desktop ${d.name}`);
  if (facts.maintenanceBase === version) out.push('the open maintenance session');
  for (const v of facts.versions) if (v.backingVersion === version) out.push(`version ${v.version} (an overlay on it)`);
  return out;
}

/** Versions gc may delete, newest first; deleting one can free the version it was an overlay on. */
export function gcPlan(facts: UsageFacts): number[] {
  let remaining = [...facts.versions];
  const deleted: number[] = [];
  for (;;) {
    const next = remaining
      .filter((v) => v.version !== facts.currentVersion && dependantsOf(v.version, { ...facts, versions: remaining }).length === 0)
      .sort((a, b) => b.version - a.version)[0];
    if (!next) return deleted;
    deleted.push(next.version);
    remaining = remaining.filter((v) => v.version !== next.version);
  }
}

/** The versions whose files a version needs to boot: itself, then its backing chain. */
export function chainOf(version: number, versions: VersionNode[]): number[] {
  const byNumber = new Map(versions.map((v) => [v.version, v]));
  const chain: number[] = [];
  let cur = byNumber.get(version);
  while (cur && !chain.includes(cur.version)) {
    chain.push(cur.version);
    cur = cur.backingVersion === null ? undefined : byNumber.get(cur.backingVersion);
  }
  return chain;
}

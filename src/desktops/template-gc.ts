// Which restore-template builds can go (pure). A build folder (templates/<key>/<build>/) holds a frozen overlay that
// clones' system disks are backed by: it stays while any desktop's disk is, and the current build of a key a restore
// pool still wants stays for the next clone; a key being built is left alone (its new folder has no pointer yet).

export interface TemplateBuild {
  key: string;
  build: string;
  /** Its frozen overlay (templates/<key>/<build>/system.qcow2): what clones' disks name as their backing file. */
  overlay: string;
  /** templates/<key>/current names it. */
  current: boolean;
}

export interface TemplateGcFacts {
  builds: readonly TemplateBuild[];
  /** Keys of (pool, image version, shape) a restore pool clones from now or its desktops still run on. */
  wanted: ReadonlySet<string>;
  /** Backing files of every desktop's system disk (resolved paths). */
  backing: ReadonlySet<string>;
  /** Keys with a build in flight. */
  building: ReadonlySet<string>;
}

/** The builds to remove, with why each may go. */
export function templateBuildsToRemove(facts: TemplateGcFacts): Array<TemplateBuild & { why: string }> {
  const out: Array<TemplateBuild & { why: string }> = [];
  for (const b of facts.builds) {
    if (facts.building.has(b.key) || facts.backing.has(b.overlay)) continue;
    if (b.current && facts.wanted.has(b.key)) continue;
    out.push({ ...b, why: b.current ? 'no restore pool uses its image version and shape any more, and no desktop is a clone of it' : 'a newer build replaced it, and no desktop is a clone of it' });
  }
  return out;
}

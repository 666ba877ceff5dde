// The skip allow-list (test/skips-allowed.json) and the report of the skips a test run saw; pure, used by
// scripts/run-test-files.mjs. An entry names the test file, the test and why it cannot run on this machine.

export interface SkipAllowed {
  file: string;
  test: string;
  reason: string;
}

export interface SkipSeen {
  /** The test file as in the source tree, e.g. test/vm/boot-modes.test.ts. */
  file: string;
  name: string;
  /** The reason the test gave for skipping. */
  why: string;
}

/** Parses and checks the allow-list: an array of { file, test, reason }, each a non-empty string. */
export function skipsAllowedParse(text: string): SkipAllowed[] {
  const list: unknown = JSON.parse(text);
  if (!Array.isArray(list)) throw new Error('test/skips-allowed.json: expected an array of { file, test, reason }');
  list.forEach((entry: Record<string, unknown> | null, i) => {
    for (const key of ['file', 'test', 'reason']) {
      const value = entry?.[key];
      if (typeof value !== 'string' || value.trim() === '') {
        throw new Error(`test/skips-allowed.json: entry ${i} needs a non-empty "${key}" (the reason says why the test cannot run here)`);
      }
    }
  });
  return list as SkipAllowed[];
}

/** The source file of a compiled test file's path relative to the repository (dist/test/a.test.js → test/a.test.ts). */
export function skipSourceFile(relativeCompiled: string): string {
  return relativeCompiled.replace(/^dist\//, '').replace(/\.js$/, '.ts');
}

/** The text printed after the run (allowed skips with their reason, then the refused ones) and the refused count. */
export function skipReport(list: SkipAllowed[], skips: SkipSeen[]): { text: string; refused: number } {
  const entryOf = (s: SkipSeen) => list.find((e) => e.file === s.file && e.test === s.name);
  const allowed = skips.filter((s) => entryOf(s));
  const refused = skips.filter((s) => !entryOf(s));
  const lines: string[] = [];
  if (allowed.length) {
    lines.push(`skipped, allowed by test/skips-allowed.json (${allowed.length}):`);
    for (const s of allowed) lines.push(`  - ${s.file}: ${s.name}`, `      allowed because: ${entryOf(s)!.reason}`);
  }
  if (refused.length) {
    lines.push(`skipped without an entry in test/skips-allowed.json, so the run fails (${refused.length}):`);
    for (const s of refused) lines.push(`  ✖ ${s.file}: ${s.name}`, `      skipped because: ${s.why}`);
    lines.push('  Install what the test needs (node scripts/setup.mjs); only a test that cannot run on this machine at all');
    lines.push('  goes to test/skips-allowed.json as { "file", "test", "reason" }.');
  }
  return { text: lines.length ? `\n${lines.join('\n')}\n` : '', refused: refused.length };
}

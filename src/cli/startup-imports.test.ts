// Every `ardesia …` command pays for what main.js imports statically: the daemon's, the store's and the parsers'
// modules must be loaded on demand (await import) by the commands that need them, or each CLI call slows down.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
/** Packages and project folders only some commands need. */
const HEAVY_PACKAGES = ['kysely', 'better-sqlite3', 'pg', 'fastify', 'ldapts', 'yaml', 'ws', 'pino', 'otpauth', 'qrcode', 'argon2'];
const HEAVY_FOLDERS = ['daemon', 'store', 'ops', 'api', 'directory'];

/** Static import specifiers of compiled ESM (`import … from 'x'`, `export … from 'x'`, `import 'x'`); `import('x')` is not one. */
export function staticImports(js: string): string[] {
  const out: string[] = [];
  for (const m of js.matchAll(/^\s*(?:import|export)\s+(?:[^'"();]*?\s+from\s+)?['"]([^'"]+)['"]/gm)) out.push(m[1]!);
  return out;
}

/** Every module reachable from `entry` by static imports: project files by path, packages by name. */
function reachable(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const walk = (file: string): void => {
    if (files.has(file)) return;
    files.add(file);
    for (const spec of staticImports(readFileSync(file, 'utf8'))) {
      if (spec.startsWith('node:')) continue;
      if (spec.startsWith('.')) {
        const next = resolve(dirname(file), spec);
        if (existsSync(next)) walk(next);
      } else packages.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
    }
  };
  walk(entry);
  return { files, packages };
}

test('staticImports: static imports and re-exports count, dynamic import() does not', () => {
  const js = "import { a } from './a.js';\nimport b from 'pkg';\nexport { c } from '../c.js';\nimport './side.js';\nconst d = await import('./lazy.js');\nimport type_like from \"q\";";
  assert.deepEqual(staticImports(js), ['./a.js', 'pkg', '../c.js', './side.js', 'q']);
});

test("the CLI's entry imports none of the daemon's, the store's or the parsers' modules statically", () => {
  const main = join(here, 'main.js');
  const { files, packages } = reachable(main);
  assert.ok(files.size > 5, `the walk found ${files.size} files from ${main}`);
  const heavyPackages = HEAVY_PACKAGES.filter((p) => packages.has(p));
  const srcRoot = resolve(here, '..');
  const heavyFiles = [...files].filter((f) => HEAVY_FOLDERS.some((d) => f.startsWith(join(srcRoot, d) + '/')));
  assert.deepEqual(heavyPackages, [], 'load these packages with await import() in the commands that use them');
  assert.deepEqual(heavyFiles.map((f) => f.slice(srcRoot.length + 1)), [], 'load these modules with await import() in the commands that use them');
});

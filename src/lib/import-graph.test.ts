// Layering checks over the source tree: the folders under src/ import each other without a cycle, and the
// web app reaches into src/ only through src/contract (the wire types and predicates both sides share).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

// Compiled to dist/src/lib/import-graph.test.js: the repository root is three levels up.
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

function sourceFiles(dir: string, exts: string[]): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path, exts));
    else if (exts.some((e) => entry.endsWith(e)) && !/\.test\.tsx?$/.test(entry) && !entry.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

// Static imports and re-exports, `import type` included: a type-only import still ties one folder's code to
// another's (a change there breaks the build here), so it counts as a dependency like any other.
const SPECIFIER = /(?:^|[\s;])(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]/g;

/** Relative specifiers of one file's static imports and export-froms. */
export function relativeSpecifiers(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(SPECIFIER)) if (m[1]!.startsWith('.')) out.push(m[1]!);
  return out;
}

/** The top-level folder under src/ a path belongs to (src/hypervisor/qemu/x.ts → hypervisor), or undefined. */
function folderOf(path: string): string | undefined {
  const rel = relative(join(root, 'src'), path);
  if (rel.startsWith('..')) return undefined;
  const parts = rel.split(sep);
  return parts.length > 1 ? parts[0] : '(root)';
}

/** A cycle in the graph as a list of nodes (first repeated at the end), or undefined. */
export function findCycle(graph: Map<string, Set<string>>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): string[] | undefined => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of [...(graph.get(node) ?? [])].sort()) {
      if (state.get(next) === 'open') return [...stack.slice(stack.indexOf(next)), next];
      if (state.get(next) === undefined) {
        const found = visit(next);
        if (found) return found;
      }
    }
    stack.pop();
    state.set(node, 'done');
    return undefined;
  };
  for (const node of [...graph.keys()].sort()) {
    if (state.get(node) !== undefined) continue;
    const found = visit(node);
    if (found) return found;
  }
  return undefined;
}

test('relativeSpecifiers reads imports, type imports and export-froms, not other strings', () => {
  const text = [
    "import { a } from './a.js';",
    "import type { B } from '../b/b.js';",
    "export { c } from './c.js';",
    "export * from '../d.js';",
    "import './side-effect.js';",
    "import { readFile } from 'node:fs/promises';",
    "const s = 'import x from \"./not-code\"';",
    'import {\n  e,\n  f,\n} from "../e/f.js";',
  ].join('\n');
  assert.deepEqual(relativeSpecifiers(text), ['./a.js', '../b/b.js', './c.js', '../d.js', './side-effect.js', '../e/f.js']);
});

test('findCycle finds a cycle and none in a DAG', () => {
  const g = (edges: Array<[string, string]>) => {
    const m = new Map<string, Set<string>>();
    for (const [a, b] of edges) (m.get(a) ?? m.set(a, new Set()).get(a)!).add(b);
    return m;
  };
  assert.equal(findCycle(g([['a', 'b'], ['b', 'c'], ['a', 'c']])), undefined);
  assert.deepEqual(findCycle(g([['a', 'b'], ['b', 'c'], ['c', 'a']])), ['a', 'b', 'c', 'a']);
});

test('the folders under src/ import each other without a cycle', () => {
  const graph = new Map<string, Set<string>>();
  const why = new Map<string, string>();
  for (const file of sourceFiles(join(root, 'src'), ['.ts'])) {
    const from = folderOf(file)!;
    for (const spec of relativeSpecifiers(readFileSync(file, 'utf8'))) {
      const to = folderOf(resolve(dirname(file), spec));
      if (to === undefined || to === from) continue;
      (graph.get(from) ?? graph.set(from, new Set()).get(from)!).add(to);
      if (!why.has(`${from}>${to}`)) why.set(`${from}>${to}`, `${relative(root, file)} imports ${spec}`);
    }
  }
  const cycle = findCycle(graph);
  const detail = cycle?.slice(1).map((to, i) => `  ${cycle[i]} → ${to}: ${why.get(`${cycle[i]}>${to}`)}`).join('\n');
  assert.equal(cycle, undefined, `import cycle between folders: ${cycle?.join(' → ')}\n${detail}`);
});

test('the web app imports from src/ only src/contract', () => {
  const offenders: string[] = [];
  for (const file of sourceFiles(join(root, 'web', 'src'), ['.ts', '.tsx'])) {
    for (const spec of relativeSpecifiers(readFileSync(file, 'utf8'))) {
      const target = resolve(dirname(file), spec);
      const folder = folderOf(target);
      if (folder !== undefined && folder !== 'contract') offenders.push(`${relative(root, file)} imports ${spec}`);
    }
  }
  assert.deepEqual(offenders, []);
});

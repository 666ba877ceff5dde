// The same VM definitions as YAML or JSON: { vms: [VmSpecInput…], switches?: [...] }, validated with
// zod; every error names the field path and, from the YAML node positions, the line and column.
import { isAbsolute, resolve, dirname } from 'node:path';
import { LineCounter, parseDocument, isMap, isNode, isScalar, type Document } from 'yaml';
import { z, type ZodTypeAny } from 'zod';
import { VmSpec } from '../../contract/vm.js';
import { vmconfParseError, type SourcePos } from './errors.js';
import type { SwitchDef, VmConfResult } from './types.js';

const SwitchFileDef = z
  .object({
    name: z.string().min(1),
    interface: z.string().regex(/^[^\s/:]{1,15}$/, 'a Linux bridge name: 1-15 characters, no spaces, "/" or ":"'),
    enabled: z.boolean().default(true),
    lockedLladdr: z.boolean().default(false),
  })
  .strict();

const SpecFileTop = z.object({ vms: z.array(z.unknown()), switches: z.array(SwitchFileDef).default([]) }).strict();

type Path = (string | number)[];

function formatPath(path: Path): string {
  return path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '');
}

function unwrapSchema(schema: ZodTypeAny): ZodTypeAny {
  for (;;) {
    if (schema instanceof z.ZodDefault) schema = schema._def.innerType as ZodTypeAny;
    else if (schema instanceof z.ZodOptional || schema instanceof z.ZodNullable) schema = schema.unwrap() as ZodTypeAny;
    else if (schema instanceof z.ZodEffects) schema = schema.innerType() as ZodTypeAny;
    else return schema;
  }
}

/** VmSpec strips keys it does not know; in a file they are typos, so find the first one. */
export function findUnknownKey(schema: ZodTypeAny, value: unknown, path: Path = []): Path | undefined {
  const s = unwrapSchema(schema);
  if (s instanceof z.ZodObject && value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const shape = s.shape as Record<string, ZodTypeAny>;
    for (const [key, child] of Object.entries(value)) {
      const childSchema = shape[key];
      if (!childSchema) return [...path, key];
      const found = findUnknownKey(childSchema, child, [...path, key]);
      if (found) return found;
    }
  }
  if (s instanceof z.ZodArray && Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findUnknownKey(s.element as ZodTypeAny, value[i], [...path, i]);
      if (found) return found;
    }
  }
  return undefined;
}

class Locator {
  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
    private readonly file: string,
  ) {}
  /** Position of the deepest node that exists along path. */
  at(path: Path): SourcePos {
    for (let n = path.length; n >= 0; n--) {
      const node = n === 0 ? this.doc.contents : this.doc.getIn(path.slice(0, n), true);
      if (isNode(node) && node.range) return this.pos(node.range[0]);
    }
    return { file: this.file, line: 1, col: 1 };
  }
  /** Position of the key of the last path element (for unknown fields). */
  keyAt(path: Path): SourcePos {
    const parent = this.doc.getIn(path.slice(0, -1), true);
    if (isMap(parent)) {
      const pair = parent.items.find((p) => isScalar(p.key) && p.key.value === path[path.length - 1]);
      if (pair && isNode(pair.key) && pair.key.range) return this.pos(pair.key.range[0]);
    }
    return this.at(path);
  }
  pos(offset: number): SourcePos {
    const { line, col } = this.lines.linePos(offset);
    return { file: this.file, line, col };
  }
}

function jsonSyntaxCheck(text: string, file: string): void {
  try {
    JSON.parse(text);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const offset = Number(/position (\d+)/.exec(message)?.[1] ?? 0);
    const before = text.slice(0, offset).split('\n');
    throw vmconfParseError({ file, line: before.length, col: (before[before.length - 1]?.length ?? 0) + 1 }, `not valid JSON: ${message}`);
  }
}

function resolveSpecPaths(spec: VmSpec, base: string): VmSpec {
  const abs = (p: string | undefined) => (p === undefined || isAbsolute(p) ? p : resolve(base, p));
  return {
    ...spec,
    disks: spec.disks.map((d) => ({ ...d, path: abs(d.path)! })),
    cdrom: abs(spec.cdrom),
    boot: { ...spec.boot, kernel: abs(spec.boot.kernel), initrd: abs(spec.boot.initrd), bios: abs(spec.boot.bios) },
  };
}

function stripUndefined<T extends object>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** Parses a YAML or JSON VM spec file into the same result shape as a vm.conf. */
export function parseVmSpecDocument(text: string, opts: { path: string; format: 'yaml' | 'json' }): VmConfResult {
  const file = opts.path;
  if (opts.format === 'json') jsonSyntaxCheck(text, file);
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  const loc = new Locator(doc, lines, file);
  const syntax = doc.errors[0];
  if (syntax) throw vmconfParseError(loc.pos(syntax.pos[0]), `not valid ${opts.format.toUpperCase()}: ${syntax.message.split('\n')[0]}`);
  const data: unknown = doc.toJS();
  const top = SpecFileTop.safeParse(data);
  if (!top.success) {
    const issue = top.error.issues[0]!;
    throw vmconfParseError(loc.at(issue.path), `${formatPath(issue.path) || 'top level'}: ${issue.message} (expected { vms: [...], switches: [...] })`);
  }
  const base = dirname(resolve(file));
  const result: VmConfResult = { vms: [], switches: [], globals: {}, sources: [resolve(file)], sourceOf: {}, instancePolicy: {}, lockedNics: [], warnings: [] };
  top.data.vms.forEach((raw, i) => {
    const unknown = findUnknownKey(VmSpec, raw, ['vms', i]);
    if (unknown) throw vmconfParseError(loc.keyAt(unknown), `${formatPath(unknown)}: unknown field`);
    const parsed = VmSpec.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const path: Path = ['vms', i, ...issue.path];
      throw vmconfParseError(loc.at(path), `${formatPath(path)}: ${issue.message}`);
    }
    const spec = stripUndefined(resolveSpecPaths(parsed.data, base));
    const here = loc.at(['vms', i]);
    const clash = result.sourceOf[spec.name];
    if (clash) throw vmconfParseError(here, `vms[${i}]: vm "${spec.name}" is already defined at ${clash}`);
    result.vms.push(spec);
    result.sourceOf[spec.name] = `${file}:${here.line}`;
  });
  top.data.switches.forEach((sw, i) => {
    if (result.switches.some((s) => s.name === sw.name)) throw vmconfParseError(loc.at(['switches', i]), `switches[${i}]: switch "${sw.name}" is defined twice`);
    const def: SwitchDef = { ...sw, source: `${file}:${loc.at(['switches', i]).line}` };
    result.switches.push(def);
  });
  return result;
}

// A two-pass byte assembler for hand-encoded x86 tables: every item has a size known without
// label values (pass 1 places labels), then pass 2 emits bytes with labels resolved.

/** Resolves a label to its absolute address. */
export type Resolve = (label: string) => number;
/** A value that may depend on label addresses. */
export type Value = number | ((resolve: Resolve) => number);

export type Part =
  | number // one literal byte
  | { kind: 'u16' | 'u32'; value: Value }
  | { kind: 'rel8' | 'rel32'; target: string }; // relative to the end of the instruction

export type Item =
  | { kind: 'label'; name: string }
  | { kind: 'code'; asm: string; parts: Part[] }
  | { kind: 'align'; to: number };

export class AsmError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AsmError';
  }
}

export const label = (name: string): Item => ({ kind: 'label', name });
export const code = (asm: string, ...parts: Part[]): Item => ({ kind: 'code', asm, parts });
export const align = (to: number): Item => ({ kind: 'align', to });
export const u16 = (value: Value): Part => ({ kind: 'u16', value });
export const u32 = (value: Value): Part => ({ kind: 'u32', value });
export const rel8 = (target: string): Part => ({ kind: 'rel8', target });
export const rel32 = (target: string): Part => ({ kind: 'rel32', target });
/** The address of a label, as a Value. */
export const addr = (name: string): Value => (resolve) => resolve(name);
/** NUL-terminated ASCII text, as GAS's .asciz. */
export const asciz = (text: string): Item => code(`.asciz ${JSON.stringify(text)}`, ...[...Buffer.from(text, 'ascii'), 0]);
/** Zero bytes, as GAS's .fill N, 1, 0. */
export const zeros = (count: number): Item => code(`.fill ${count}, 1, 0`, ...new Array<number>(count).fill(0));

function partSize(part: Part): number {
  if (typeof part === 'number') return 1;
  if (part.kind === 'u16') return 2;
  if (part.kind === 'rel8') return 1;
  return 4;
}

function itemSize(item: Item, at: number): number {
  if (item.kind === 'label') return 0;
  if (item.kind === 'align') return (item.to - (at % item.to)) % item.to;
  return item.parts.reduce<number>((sum, part) => sum + partSize(part), 0);
}

function placeLabels(items: Item[], origin: number): Map<string, number> {
  const labels = new Map<string, number>();
  let at = origin;
  for (const item of items) {
    if (item.kind === 'label') {
      if (labels.has(item.name)) throw new AsmError(`label ${item.name} defined twice`);
      labels.set(item.name, at);
    }
    at += itemSize(item, at);
  }
  return labels;
}

function valueOf(value: Value, resolve: Resolve): number {
  return typeof value === 'number' ? value : value(resolve);
}

function pushLe(out: number[], value: number, bytes: number): void {
  for (let i = 0; i < bytes; i++) out.push(Math.floor(value / 2 ** (8 * i)) & 0xff);
}

function emitCode(item: Extract<Item, { kind: 'code' }>, at: number, resolve: Resolve, out: number[]): void {
  const end = at + itemSize(item, at);
  for (const part of item.parts) {
    if (typeof part === 'number') out.push(part & 0xff);
    else if ('value' in part) pushLe(out, valueOf(part.value, resolve) >>> 0, part.kind === 'u16' ? 2 : 4);
    else {
      const distance = resolve(part.target) - end;
      if (part.kind === 'rel8' && (distance < -128 || distance > 127)) {
        throw new AsmError(`${item.asm}: ${part.target} is ${distance} bytes away, out of rel8 range`);
      }
      pushLe(out, part.kind === 'rel8' ? distance & 0xff : distance >>> 0, part.kind === 'rel8' ? 1 : 4);
    }
  }
}

/** Assembles items placed at origin into bytes; also returns the label addresses. */
export function assemble(items: Item[], origin: number): { bytes: Buffer; labels: Map<string, number> } {
  const labels = placeLabels(items, origin);
  const resolve: Resolve = (name) => {
    const found = labels.get(name);
    if (found === undefined) throw new AsmError(`undefined label ${name}`);
    return found;
  };
  const out: number[] = [];
  for (const item of items) {
    const at = origin + out.length;
    if (item.kind === 'align') out.push(...new Array<number>(itemSize(item, at)).fill(0));
    else if (item.kind === 'code') emitCode(item, at, resolve, out);
  }
  return { bytes: Buffer.from(out), labels };
}

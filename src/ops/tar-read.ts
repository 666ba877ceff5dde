// Reads a tar archive as a stream without extracting it: each member's name, type and sha256. The archives are
// ours (GNU tar --format=ustar), but a restore reads files from anywhere: every header is checked, nothing trusted.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';

export interface TarMember {
  name: string;
  /** '0' regular file, '5' folder; anything else is refused by the caller. */
  type: string;
  size: number;
  mode: number;
  sha256?: string;
  /** The bytes, for the members asked for (small ones: the manifest and SHA256SUMS). */
  contents?: Buffer;
}

const BLOCK = 512;

/** Pure: one ustar header block, or undefined for an end-of-archive (all-zero) block; throws on a damaged one. */
export function tarHeaderParse(block: Buffer): TarMember | undefined {
  if (block.every((b) => b === 0)) return undefined;
  const text = (from: number, len: number) => block.subarray(from, from + len).toString('utf8').replace(/\0.*$/s, '');
  const octal = (from: number, len: number, what: string) => {
    const s = text(from, len).trim();
    if (!/^[0-7]+$/.test(s)) throw new Error(`a tar header has a malformed ${what} (${JSON.stringify(s)})`);
    return parseInt(s, 8);
  };
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : block[i]!;
  if (octal(148, 8, 'checksum') !== sum) throw new Error('a tar header checksum does not match (the archive is damaged)');
  const prefix = text(345, 155);
  const name = prefix ? `${prefix}/${text(0, 100)}` : text(0, 100);
  return { name, type: text(156, 1) || '0', size: octal(124, 12, 'size'), mode: octal(100, 8, 'mode') };
}

/** Every member of the archive at `file`, with the sha256 of each regular file's bytes. */
export async function tarMembers(file: string, keep: (name: string) => boolean = () => false, chunkBytes = 1 << 20): Promise<TarMember[]> {
  const members: TarMember[] = [];
  let pending: Buffer = Buffer.alloc(0);
  let current: { member: TarMember; left: number; hash: Hash; pad: number; kept?: Buffer[] } | undefined;
  let ended = false;
  for await (const chunk of createReadStream(file, { highWaterMark: chunkBytes }) as AsyncIterable<Buffer>) {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    let at = 0;
    while (!ended) {
      if (current) {
        const take = Math.min(current.left, pending.length - at);
        current.hash.update(pending.subarray(at, at + take));
        current.kept?.push(Buffer.from(pending.subarray(at, at + take)));
        current.left -= take;
        at += take;
        if (current.left > 0) break;
        if (pending.length - at < current.pad) break;
        at += current.pad;
        current.member.sha256 = current.hash.digest('hex');
        if (current.kept) current.member.contents = Buffer.concat(current.kept);
        members.push(current.member);
        current = undefined;
        continue;
      }
      if (pending.length - at < BLOCK) break;
      const header = tarHeaderParse(pending.subarray(at, at + BLOCK));
      at += BLOCK;
      if (!header) {
        ended = true;
        break;
      }
      if (header.type === '0' && header.size >= 0) {
        current = { member: header, left: header.size, hash: createHash('sha256'), pad: (BLOCK - (header.size % BLOCK)) % BLOCK, kept: keep(header.name) && header.size <= 1 << 24 ? [] : undefined };
      } else {
        members.push(header);
        // Other members' data (none for folders) is skipped block by block.
        const skip = Math.ceil(header.size / BLOCK) * BLOCK;
        if (skip > 0) current = { member: { ...header, type: `${header.type}` }, left: skip, hash: createHash('sha256'), pad: 0 };
        if (skip > 0) members.pop();
      }
    }
    pending = pending.subarray(at);
    if (ended) break;
  }
  if (!ended) throw new Error(current ? `the archive ends inside ${current.member.name} (truncated)` : 'the archive has no end-of-archive marker (truncated)');
  return members;
}

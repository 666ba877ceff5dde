// File helpers of backup and restore: sha256 of a file, and the regular files and folders under a path.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export async function fileSha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) hash.update(chunk);
  return hash.digest('hex');
}

/** Folders and regular files under `rel` (relative to `base`), folders before their contents; sockets, links and the like are left out. */
export function treeEntries(base: string, rel: string): Array<{ name: string; dir: boolean }> {
  const full = join(base, rel);
  if (!existsSync(full)) return [];
  const st = lstatSync(full);
  if (st.isFile()) return [{ name: rel, dir: false }];
  if (!st.isDirectory()) return [];
  const out: Array<{ name: string; dir: boolean }> = [{ name: rel, dir: true }];
  for (const entry of readdirSync(full).sort()) out.push(...treeEntries(base, `${rel}/${entry}`));
  return out;
}

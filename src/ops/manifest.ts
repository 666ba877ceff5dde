// Pure: a backup archive's manifest and its SHA256SUMS, and the checks a restore makes of them.
import { z } from 'zod';

export const BACKUP_FORMAT = 'ardesia-backup';
export const BACKUP_FORMAT_VERSION = 1;
export const MANIFEST_FILE = 'manifest.json';
export const SUMS_FILE = 'SHA256SUMS';
/** The store's snapshot inside the archive: a SQLite file, or a PostgreSQL plain dump. */
export const STORE_SQLITE_MEMBER = 'store/ardesia.db';
export const STORE_POSTGRES_MEMBER = 'store/postgres.sql';
/** Top-level names an archive may hold; anything else is refused before extraction. */
export const ARCHIVE_TOP_LEVEL = [MANIFEST_FILE, SUMS_FILE, 'store', 'tls', 'tokens', 'root.token', 'images', 'homes', 'desktops'] as const;

export const BackupManifest = z
  .object({
    format: z.literal(BACKUP_FORMAT),
    formatVersion: z.literal(BACKUP_FORMAT_VERSION),
    createdAt: z.string(),
    release: z.string(),
    store: z.object({ kind: z.enum(['sqlite', 'postgres']), member: z.string(), migrations: z.array(z.string()) }).strict(),
    images: z.array(z.object({ image: z.string(), version: z.number().int(), sha256: z.string().regex(/^[0-9a-f]{64}$/), member: z.string(), included: z.boolean() }).strict()),
    homes: z.array(z.object({ user: z.string(), sizeBytes: z.number(), member: z.string(), included: z.boolean(), sha256: z.string().regex(/^[0-9a-f]{64}$/).nullable(), inUseBy: z.string().nullable() }).strict()),
    /** Configuration and secrets copied from the data folder (tls/, tokens/, root.token). */
    config: z.array(z.string()),
  })
  .strict();
export type BackupManifest = z.infer<typeof BackupManifest>;

/** SHA256SUMS text: `<sha256>  <member>` per line, as sha256sum writes it (so `sha256sum -c` checks it too). */
export function sumsFormat(sums: ReadonlyMap<string, string>): string {
  return [...sums.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([member, sha]) => `${sha}  ${member}\n`).join('');
}

export function sumsParse(text: string): Map<string, string> | string {
  const sums = new Map<string, string>();
  for (const [i, line] of text.split('\n').entries()) {
    if (line === '') continue;
    const m = /^([0-9a-f]{64}) {2}(.+)$/.exec(line);
    if (!m) return `${SUMS_FILE} line ${i + 1} is not "<sha256>  <file>"`;
    if (sums.has(m[2]!)) return `${SUMS_FILE} lists ${m[2]} twice`;
    sums.set(m[2]!, m[1]!);
  }
  return sums;
}

/** A member name as the archive may hold it: relative, under a known top-level name, no `..`, no empty parts. */
export function memberProblem(member: string): string | undefined {
  const parts = member.replace(/\/$/, '').split('/');
  if (member.startsWith('/') || parts.some((p) => p === '' || p === '.' || p === '..')) return `${JSON.stringify(member)} is not a plain relative path`;
  if (!(ARCHIVE_TOP_LEVEL as readonly string[]).includes(parts[0]!)) return `${JSON.stringify(member)} is not part of an Ardesia backup`;
  return undefined;
}

/**
 * Every problem of an extracted archive at once: files whose sha256 differs from SHA256SUMS, files listed but
 * missing, files present but not listed, and manifest entries (store, included images and homes) without a file
 * or, for images, whose file is not the version the store recorded.
 */
export function archiveProblems(listed: ReadonlyMap<string, string>, actual: ReadonlyMap<string, string>, manifest: BackupManifest): string[] {
  const problems: string[] = [];
  for (const [member, sha] of listed) {
    const got = actual.get(member);
    if (got === undefined) problems.push(`${member} is listed in ${SUMS_FILE} but missing`);
    else if (got !== sha) problems.push(`${member}: sha256 ${got} differs from ${SUMS_FILE} (${sha})`);
  }
  for (const member of actual.keys()) if (member !== SUMS_FILE && !listed.has(member)) problems.push(`${member} is not listed in ${SUMS_FILE}`);
  if (!listed.has(MANIFEST_FILE)) problems.push(`${MANIFEST_FILE} is not listed in ${SUMS_FILE}`);
  if (!listed.has(manifest.store.member)) problems.push(`the store (${manifest.store.member}) is missing`);
  for (const img of manifest.images.filter((i) => i.included)) {
    const got = actual.get(img.member);
    if (got === undefined) problems.push(`image ${img.image} version ${img.version} (${img.member}) is missing`);
    else if (got !== img.sha256) problems.push(`image ${img.image} version ${img.version}: sha256 ${got} is not the ${img.sha256} the store recorded`);
  }
  for (const home of manifest.homes.filter((h) => h.included)) {
    const got = actual.get(home.member);
    if (got === undefined) problems.push(`the home of ${home.user} (${home.member}) is missing`);
    else if (home.sha256 !== null && got !== home.sha256) problems.push(`the home of ${home.user}: sha256 ${got} differs from the manifest's ${home.sha256}`);
  }
  return problems;
}

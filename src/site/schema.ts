// The site file (`ardesia plan|apply -f site.yaml`, `ardesia export`): the whole site in one document. Pools, thin
// clients, image boot profiles and directory sources reuse the contract's and the directory's own schemas.
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { ArdesiaError } from '../contract/errors.js';
import { BootProfileInput, ImportFormat } from '../contract/images.js';
import { Pool } from '../contract/pools.js';
import { ThinClientCreate } from '../contract/thinclients.js';
import { KeyboardLayout, ROLES } from '../contract/users.js';
import { NAME_PATTERN } from '../contract/vm.js';
import { SecretRef, SourceSchema, sourceProblems } from '../directory/config.js';

const Name = z.string().regex(NAME_PATTERN, 'a name is 1-63 letters, digits, "_", "." or "-", starting with a letter or digit');
const Sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'a sha256 is 64 lower-case hex digits (sha256sum FILE)');

/** A gold image: imported from a disk file checked by its sha256, or built from Debian packages; `current` is the version desktops get. */
export const SiteImage = z
  .object({
    name: Name,
    /** A disk file on the daemon's host (read by the daemon; its sha256 checked by the CLI first). */
    from: z.string().startsWith('/', 'an absolute path on the daemon\'s host').optional(),
    format: ImportFormat.optional(),
    sha256: Sha256.optional(),
    build: z.literal('debian').optional(),
    boot: BootProfileInput.default({}),
    current: z.number().int().min(1).optional(),
  })
  .strict()
  .superRefine((img, ctx) => {
    if ((img.from === undefined) === (img.build === undefined)) ctx.addIssue({ code: 'custom', path: ['from'], message: 'give exactly one of from (a disk file with its sha256) or build: debian' });
    if (img.from !== undefined && img.sha256 === undefined) ctx.addIssue({ code: 'custom', path: ['sha256'], message: 'an import names the sha256 of its file (sha256sum FILE), so that the wrong file is never imported' });
    if (img.from === undefined && (img.sha256 !== undefined || img.format !== undefined)) ctx.addIssue({ code: 'custom', path: ['sha256'], message: 'sha256 and format go with from' });
  });
export type SiteImage = z.output<typeof SiteImage>;

/** A local account: no password here (it gets a first-login password, shown once when apply creates it). */
export const SiteUser = z
  .object({
    name: Name,
    fullName: z.string().max(200).default(''),
    roles: z.array(z.enum(ROLES)).max(2).default([]),
    groups: z.array(Name).default([]),
    keyboardLayout: KeyboardLayout.default('us'),
    kiosk: z.boolean().default(false),
    disabled: z.boolean().default(false),
  })
  .strict();
export type SiteUser = z.output<typeof SiteUser>;

/** A console directory source: the --directory file's schema; the bind password only as a file:/env: reference, or
 *  left out to keep the one stored on the site. */
export const SiteDirectorySource = SourceSchema.extend({
  bind: z.object({ dn: z.string().min(3), password: SecretRef.optional() }).strict().optional(),
});
export type SiteDirectorySource = z.output<typeof SiteDirectorySource>;

export const SiteSettings = z.object({ adminsMustUseMfa: z.boolean().optional() }).strict().default({});

export const SiteFileSchema = z
  .object({
    settings: SiteSettings,
    images: z.array(SiteImage).default([]),
    groups: z.array(Name).default([]),
    users: z.array(SiteUser).default([]),
    directorySources: z.array(SiteDirectorySource).default([]),
    pools: z.array(Pool).default([]),
    thinClients: z.array(ThinClientCreate).default([]),
  })
  .strict()
  .superRefine((site, ctx) => {
    const add = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });
    const names = <T>(list: T[], key: (t: T) => string, section: string, field: string) => {
      const seen = new Set<string>();
      list.forEach((t, i) => {
        if (seen.has(key(t))) add([section, i, field], `${key(t)} is listed twice`);
        seen.add(key(t));
      });
      return seen;
    };
    const images = names(site.images, (i) => i.name, 'images', 'name');
    const groups = names(site.groups, (g) => g, 'groups', '');
    const users = names(site.users, (u) => u.name, 'users', 'name');
    names(site.directorySources, (s) => s.name, 'directorySources', 'name');
    const pools = names(site.pools, (p) => p.name, 'pools', 'name');
    names(site.thinClients, (t) => t.mac, 'thinClients', 'mac');
    site.users.forEach((u, i) => u.groups.forEach((g, j) => groups.has(g) || add(['users', i, 'groups', j], `group ${g} is not in groups`)));
    site.directorySources.forEach((s, i) => sourceProblems(s).forEach((p) => add(['directorySources', i, ...p.path], p.message)));
    site.directorySources.forEach((s, i) => Object.values(s.groups).flat().forEach((g) => groups.has(g) || add(['directorySources', i, 'groups'], `group ${g} is not in groups`)));
    site.pools.forEach((p, i) => {
      if (!images.has(p.image)) add(['pools', i, 'image'], `image ${p.image} is not in images`);
      p.entitled.groups.forEach((g, j) => groups.has(g) || add(['pools', i, 'entitled', 'groups', j], `group ${g} is not in groups`));
    });
    site.thinClients.forEach((t, i) => {
      if (t.pool && !pools.has(t.pool)) add(['thinClients', i, 'pool'], `pool ${t.pool} is not in pools`);
      if (t.kioskUser && !users.has(t.kioskUser)) add(['thinClients', i, 'kioskUser'], `user ${t.kioskUser} is not in users`);
    });
  });
export type SiteFile = z.output<typeof SiteFileSchema>;

/** Every problem of the document as `path: message`, all at once (empty when it is valid). Pure. */
export function siteProblems(data: unknown): string[] {
  const parsed = SiteFileSchema.safeParse(data ?? {});
  return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.filter((p) => p !== '').join('.') || '(top)'}: ${i.message}`);
}

/** The site file's text → the validated site, or SITE_FILE_INVALID listing every problem with its path. Pure. */
export function siteFileParse(text: string, where: string): SiteFile {
  let data: unknown;
  try {
    data = parseYaml(text, { prettyErrors: true });
  } catch (err) {
    const at = err instanceof YAMLParseError && err.linePos ? ` at line ${err.linePos[0].line}, column ${err.linePos[0].col}` : '';
    throw new ArdesiaError('SITE_FILE_INVALID', `site file ${where}: not YAML${at}: ${(err as Error).message.split('\n')[0]}`, { problems: [(err as Error).message] });
  }
  const parsed = SiteFileSchema.safeParse(data ?? {});
  if (parsed.success) return parsed.data;
  const problems = siteProblems(data);
  throw new ArdesiaError('SITE_FILE_INVALID', `site file ${where} has ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n  ${problems.join('\n  ')}`, { problems });
}

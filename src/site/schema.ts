// The site file (`ardesia plan|apply -f site.yaml`, `ardesia export`): the whole site in one document. Pools, thin
// clients, image boot profiles and directory sources reuse the contract's and the directory's own schemas.
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { ArdesiaError } from '../contract/errors.js';
import { BootProfileInput, ImportFormat } from '../contract/images.js';
import { HostLabel, HostName } from '../contract/hosts.js';
import { Pool } from '../contract/pools.js';
import { ThinClientCreate } from '../contract/thinclients.js';
import { KeyboardLayout, ROLES } from '../contract/users.js';
import { NAME_PATTERN } from '../contract/vm.js';
import { SecretRef, SourceSchema, sourceProblems } from '../directory/config.js';
import { netbootConfigSchema, parseNetbootConfig } from '../netboot/config.js';

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

/** A host's labels. Hosts join by running their daemon; the file names only hosts that have joined. */
export const SiteHost = z.object({ name: HostName, labels: z.array(HostLabel).max(16).default([]) }).strict();
export type SiteHost = z.output<typeof SiteHost>;

export const SiteSettings = z.object({ adminsMustUseMfa: z.boolean().optional() }).strict().default({});

export const SiteFileSchema = z
  .object({
    settings: SiteSettings,
    images: z.array(SiteImage).default([]),
    groups: z.array(Name).default([]),
    users: z.array(SiteUser).default([]),
    directorySources: z.array(SiteDirectorySource).default([]),
    hosts: z.array(SiteHost).default([]),
    pools: z.array(Pool).default([]),
    thinClients: z.array(ThinClientCreate).default([]),
    /** The daemon's netboot (docs/netboot.md's configuration); left out: left as it is (deleted only with --prune). */
    netboot: netbootConfigSchema.optional(),
  })
  .strict();
export type SiteFile = z.output<typeof SiteFileSchema>;

type Raw = Record<string, unknown>;
const list = (v: unknown): Raw[] => (Array.isArray(v) ? v.map((x) => (x && typeof x === 'object' ? (x as Raw) : {})) : []);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
const text = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/**
 * The checks across sections (names listed twice; groups, images, pools and users named but not listed), read from
 * the raw document: they are reported even when a section fails its own schema, so every problem shows at once.
 */
function siteCrossProblems(data: unknown): string[] {
  const doc = (data && typeof data === 'object' ? data : {}) as Raw;
  const out: string[] = [];
  const names = (items: unknown[], key: (t: unknown) => string | undefined, at: (i: number) => string) => {
    const seen = new Set<string>();
    items.forEach((t, i) => {
      const k = key(t);
      if (k === undefined) return;
      if (seen.has(k)) out.push(`${at(i)}: ${k} is listed twice`);
      seen.add(k);
    });
    return seen;
  };
  const images = names(list(doc.images), (t) => text((t as Raw).name), (i) => `images.${i}.name`);
  const groups = names(strings(doc.groups), (t) => t as string, (i) => `groups.${i}`);
  const users = names(list(doc.users), (t) => text((t as Raw).name), (i) => `users.${i}.name`);
  names(list(doc.directorySources), (t) => text((t as Raw).name), (i) => `directorySources.${i}.name`);
  names(list(doc.hosts), (t) => text((t as Raw).name), (i) => `hosts.${i}.name`);
  const pools = names(list(doc.pools), (t) => text((t as Raw).name), (i) => `pools.${i}.name`);
  names(list(doc.thinClients), (t) => text((t as Raw).mac)?.toLowerCase().replace(/-/g, ':'), (i) => `thinClients.${i}.mac`);
  const need = (set: Set<string>, what: string, name: string | undefined, path: string) => {
    if (name !== undefined && !set.has(name)) out.push(`${path}: ${what} ${name} is not in ${what === 'group' ? 'groups' : `${what}s`}`);
  };
  list(doc.users).forEach((u, i) => strings(u.groups).forEach((g, j) => need(groups, 'group', g, `users.${i}.groups.${j}`)));
  list(doc.directorySources).forEach((s, i) => {
    const mapped = s.groups && typeof s.groups === 'object' ? Object.values(s.groups as Raw).flatMap(strings) : [];
    mapped.forEach((g) => need(groups, 'group', g, `directorySources.${i}.groups`));
    const urls = strings(s.urls);
    if (urls.length) for (const p of sourceProblems({ urls, startTls: s.startTls === true, allowInsecure: s.allowInsecure === true, realms: strings(s.realms), kind: text(s.kind) ?? '' })) out.push(`directorySources.${i}.${p.path.join('.')}: ${p.message}`);
  });
  list(doc.pools).forEach((p, i) => {
    need(images, 'image', text(p.image), `pools.${i}.image`);
    const entitled = (p.entitled && typeof p.entitled === 'object' ? p.entitled : {}) as Raw;
    strings(entitled.groups).forEach((g, j) => need(groups, 'group', g, `pools.${i}.entitled.groups.${j}`));
  });
  list(doc.thinClients).forEach((t, i) => {
    need(pools, 'pool', text(t.pool), `thinClients.${i}.pool`);
    need(users, 'user', text(t.kioskUser), `thinClients.${i}.kioskUser`);
  });
  return out;
}

/** The netboot configuration's own checks beyond its schema (DHCP ranges in the subnet, addresses listed twice). */
function netbootProblems(data: unknown): string[] {
  const netboot = data && typeof data === 'object' ? (data as Raw).netboot : undefined;
  if (netboot === undefined || !netbootConfigSchema.safeParse(netboot).success) return [];
  try {
    parseNetbootConfig(netboot);
    return [];
  } catch (err) {
    if (!(err instanceof ArdesiaError) || err.code !== 'NETBOOT_CONFIG_INVALID') throw err;
    return ((err.details as { problems?: string[] } | undefined)?.problems ?? [err.message]).map((p) => `netboot.${p}`);
  }
}

/** Every problem of the document as `path: message`, all at once (empty when it is valid). Pure. */
export function siteProblems(data: unknown): string[] {
  const parsed = SiteFileSchema.safeParse(data ?? {});
  const own = parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`);
  return [...own, ...siteCrossProblems(data), ...netbootProblems(data)];
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
  const problems = siteProblems(data);
  if (!problems.length) return SiteFileSchema.parse(data ?? {});
  throw new ArdesiaError('SITE_FILE_INVALID', `site file ${where} has ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n  ${problems.join('\n  ')}`, { problems });
}

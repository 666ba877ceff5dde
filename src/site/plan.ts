// The planner (pure): the site file and today's site → the ordered API calls that make the one into the other.
// Each step is one API call, so a failed apply leaves every step either done or not begun.
import type { DirectorySourceView } from '../contract/directory.js';
import type { HostView } from '../contract/hosts.js';
import type { ImageInfo } from '../contract/images.js';
import type { NetbootStatus } from '../contract/netboot.js';
import { PoolPatch, type Pool, type PoolView } from '../contract/pools.js';
import type { ThinClientView } from '../contract/thinclients.js';
import type { UserView } from '../contract/users.js';
import type { SiteDirectorySource, SiteFile, SiteHost, SiteImage, SiteUser } from './schema.js';
import type { SiteState } from './state.js';

export type StepResource = 'group' | 'user' | 'directory-source' | 'image' | 'host' | 'pool' | 'thin-client' | 'netboot' | 'settings';
export type StepAction = 'create' | 'update' | 'delete';

export interface FieldChange {
  field: string;
  from: unknown;
  to: unknown;
}

export interface ApiCall {
  method: 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  path: string;
  body?: unknown;
  /** The answer is an operation to follow to its end (an image import or build). */
  operation?: boolean;
  /** The file the daemon will import, and the sha256 it must have (checked before any step runs). */
  sha256Check?: { file: string; sha256: string };
}

export interface Step {
  resource: StepResource;
  action: StepAction;
  name: string;
  changes: FieldChange[];
  call: ApiCall;
}

export interface SitePlan {
  steps: Step[];
  /** What the file asks that the site cannot take as it is (apply refuses while there is one). */
  conflicts: string[];
  /** Left alone on purpose (a directory's user, a file source, an image being installed, the caller itself). */
  notes: string[];
}

const enc = encodeURIComponent;
const same = (a: unknown, b: unknown) => canonical(a) === canonical(b);

/** JSON with object keys sorted, so field order never makes a difference. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined).sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`).join(',')}}`;
  }
  return JSON.stringify(v ?? null);
}

function diff(fields: readonly string[], from: Record<string, unknown>, to: Record<string, unknown>): FieldChange[] {
  return fields.filter((f) => !same(from[f], to[f])).map((field) => ({ field, from: from[field] ?? null, to: to[field] ?? null }));
}

const bodyOf = (changes: FieldChange[]) => Object.fromEntries(changes.map((c) => [c.field, c.to]));
const sorted = (xs: readonly string[]) => [...xs].sort();

// ---- users and groups ----

const userRoles = (roles: readonly string[]) => sorted([...new Set(['user', ...roles])]);
const USER_FIELDS = ['fullName', 'roles', 'groups', 'keyboardLayout', 'kiosk', 'disabled'] as const;
const userFieldsOf = (u: SiteUser | UserView) => ({ fullName: u.fullName, roles: userRoles(u.roles), groups: sorted(u.groups), keyboardLayout: u.keyboardLayout, kiosk: u.kiosk, disabled: u.disabled });

function userSteps(want: SiteUser[], have: UserView[], out: SitePlan): Step[] {
  const steps: Step[] = [];
  const byName = new Map(have.map((u) => [u.name, u]));
  for (const u of want) {
    const cur = byName.get(u.name);
    const fields = userFieldsOf(u);
    if (!cur) {
      const { disabled, ...create } = fields;
      steps.push({ resource: 'user', action: 'create', name: u.name, changes: diff(USER_FIELDS.filter((f) => f !== 'disabled'), {}, create), call: { method: 'POST', path: '/v1/users', body: { name: u.name, ...create } } });
      // Made enabled by the API, then disabled: its own step, so a failure between the two is reported as such.
      if (disabled) steps.push({ resource: 'user', action: 'update', name: u.name, changes: [{ field: 'disabled', from: false, to: true }], call: { method: 'PATCH', path: `/v1/users/${enc(u.name)}`, body: { disabled: true } } });
    } else if (cur.directory) {
      out.conflicts.push(`users.${u.name}: this user comes from the directory source ${cur.directory.source}; it is managed there (remove it from the file)`);
    } else {
      const changes = diff(USER_FIELDS, userFieldsOf(cur), fields);
      if (changes.length) steps.push({ resource: 'user', action: 'update', name: u.name, changes, call: { method: 'PATCH', path: `/v1/users/${enc(u.name)}`, body: bodyOf(changes) } });
    }
  }
  return steps;
}

// ---- directory sources ----

const SOURCE_FIELDS = ['kind', 'urls', 'startTls', 'caFile', 'tlsServerName', 'allowInsecure', 'bind', 'userBase', 'groupBase', 'loginAttribute', 'realms', 'userFilter', 'groups', 'adminGroups', 'keyboardLayoutAttribute', 'timeoutMs'] as const;

function sourceSteps(want: SiteDirectorySource[], have: DirectorySourceView[], out: SitePlan): Step[] {
  const steps: Step[] = [];
  const byName = new Map(have.map((s) => [s.name, s]));
  for (const s of want) {
    const cur = byName.get(s.name);
    const to = s as unknown as Record<string, unknown>;
    if (!cur) {
      if (s.bind && s.bind.password === undefined) out.conflicts.push(`directorySources.${s.name}.bind.password: a new source needs its bind password as a file:/… or env:… reference`);
      steps.push({ resource: 'directory-source', action: 'create', name: s.name, changes: diff(SOURCE_FIELDS, {}, to), call: { method: 'POST', path: '/v1/directory/sources', body: s } });
    } else if (cur.origin === 'file') {
      out.conflicts.push(`directorySources.${s.name}: this source comes from the daemon's --directory file ${cur.file ?? ''}; change it there or give this one another name`);
    } else {
      const from = { ...cur.settings } as Record<string, unknown>;
      // No password in the file: the stored one is kept, so only the bind DN is compared.
      if (s.bind && s.bind.password === undefined && cur.settings.bind) from.bind = { dn: cur.settings.bind.dn };
      const changes = diff(SOURCE_FIELDS, from, to);
      if (changes.length) steps.push({ resource: 'directory-source', action: 'update', name: s.name, changes, call: { method: 'PUT', path: `/v1/directory/sources/${enc(s.name)}`, body: s } });
    }
  }
  return steps;
}

// ---- images ----

function imageSteps(want: SiteImage[], have: ImageInfo[], out: SitePlan): Step[] {
  const steps: Step[] = [];
  const byName = new Map(have.map((i) => [i.name, i]));
  for (const img of want) {
    const cur = byName.get(img.name);
    if (!cur) {
      if (img.current !== undefined && img.current !== 1) out.conflicts.push(`images.${img.name}.current: a new image has only version 1 (it cannot be made current ${img.current})`);
      const source = img.from !== undefined ? { from: img.from, ...(img.format ? { format: img.format } : {}) } : { build: img.build };
      const changes: FieldChange[] = [{ field: img.from !== undefined ? 'from' : 'build', from: null, to: img.from ?? img.build }, ...(img.sha256 ? [{ field: 'sha256', from: null, to: img.sha256 }] : [])];
      steps.push({
        resource: 'image', action: 'create', name: img.name, changes,
        call: { method: 'POST', path: '/v1/images', body: { name: img.name, ...source, boot: img.boot }, operation: true, ...(img.from !== undefined && img.sha256 ? { sha256Check: { file: img.from, sha256: img.sha256 } } : {}) },
      });
      continue;
    }
    // Kernel and initrd are compared by neither path: the site keeps its own copies of the files it was given.
    const bootOf = (b: { arch: string; firmware: string; memoryMiB: number; cmdline?: string | null }) => ({ arch: b.arch, firmware: b.firmware, memoryMiB: b.memoryMiB, cmdline: b.cmdline ?? null });
    if (!same(bootOf(img.boot), bootOf(cur.boot))) out.notes.push(`image ${img.name}: its boot profile differs from the file's (${canonical(bootOf(cur.boot))}); it is fixed when an image is made, so apply leaves it`);
    if (img.current !== undefined && img.current !== cur.currentVersion) {
      if (!cur.versions.some((v) => v.version === img.current)) out.conflicts.push(`images.${img.name}.current: image ${img.name} has no version ${img.current} (it has ${cur.versions.map((v) => v.version).join(', ') || 'none'})`);
      else steps.push({ resource: 'image', action: 'update', name: img.name, changes: [{ field: 'current', from: cur.currentVersion, to: img.current }], call: { method: 'POST', path: `/v1/images/${enc(img.name)}/rollback`, body: { to: img.current } } });
    }
  }
  return steps;
}

// ---- pools ----

/** Every setting of a pool, from the contract's schema: a setting added there is planned without a change here. */
export const POOL_SETTINGS: readonly string[] = Object.keys(PoolPatch.shape);
// spice: absent and null both mean off.
function poolSettingsOf(pool: Pool | PoolView): Record<string, unknown> {
  const p = pool as unknown as Record<string, unknown>;
  return Object.fromEntries(POOL_SETTINGS.map((k) => [k, k === 'spice' ? (p[k] ?? null) : p[k]]));
}

function poolSteps(want: Pool[], have: PoolView[]): Step[] {
  const steps: Step[] = [];
  const byName = new Map(have.map((p) => [p.name, p]));
  for (const p of want) {
    const cur = byName.get(p.name);
    const to = poolSettingsOf(p);
    if (!cur) steps.push({ resource: 'pool', action: 'create', name: p.name, changes: diff(POOL_SETTINGS, {}, to), call: { method: 'POST', path: '/v1/pools', body: p } });
    else {
      const changes = diff(POOL_SETTINGS, poolSettingsOf(cur), to);
      if (changes.length) steps.push({ resource: 'pool', action: 'update', name: p.name, changes, call: { method: 'PATCH', path: `/v1/pools/${enc(p.name)}`, body: bodyOf(changes) } });
    }
  }
  return steps;
}

// ---- hosts ----

const sortedLabels = (labels: readonly string[]) => [...new Set(labels)].sort();

/** Host labels only: hosts join by starting their daemon and leave with `host remove`, never by the file. */
function hostSteps(want: SiteHost[], have: HostView[], out: SitePlan): Step[] {
  const steps: Step[] = [];
  const byName = new Map(have.map((h) => [h.name, h]));
  for (const h of want) {
    const cur = byName.get(h.name);
    if (!cur) {
      out.conflicts.push(`hosts.${h.name}: no host ${h.name} has joined; a host joins when its daemon starts (ardesia serve --host-name ${h.name})`);
      continue;
    }
    const from = sortedLabels(cur.labels);
    const to = sortedLabels(h.labels);
    if (same(from, to)) continue;
    if (cur.labelsFrom === 'serve') {
      out.conflicts.push(`hosts.${h.name}.labels: that host's serve --host-label options set them (${from.join(', ') || 'none'}); change them there, or remove the options and restart its daemon`);
      continue;
    }
    steps.push({ resource: 'host', action: 'update', name: h.name, changes: [{ field: 'labels', from, to }], call: { method: 'PUT', path: `/v1/hosts/${enc(h.name)}/labels`, body: { labels: to } } });
  }
  return steps;
}

// ---- thin clients ----

const THIN_CLIENT_FIELDS = ['name', 'place', 'pool', 'keyboardLayout', 'resolution', 'bootParams', 'kioskUser'] as const;
type SiteThinClient = SiteFile['thinClients'][number];

function thinClientSteps(want: SiteThinClient[], have: ThinClientView[]): Step[] {
  const steps: Step[] = [];
  const byMac = new Map(have.map((t) => [t.mac, t]));
  for (const t of want) {
    const cur = byMac.get(t.mac);
    // A setting the file leaves out is none (null); the state only when given (a newly seen PC stays "new").
    const to: Record<string, unknown> = Object.fromEntries(THIN_CLIENT_FIELDS.map((f) => [f, t[f] ?? null]));
    const fields = t.state === undefined ? THIN_CLIENT_FIELDS : [...THIN_CLIENT_FIELDS, 'state'];
    if (t.state !== undefined) to.state = t.state;
    if (!cur) steps.push({ resource: 'thin-client', action: 'create', name: t.mac, changes: diff(fields, {}, to), call: { method: 'POST', path: '/v1/thinclients', body: t } });
    else {
      const changes = diff(fields, cur as unknown as Record<string, unknown>, to);
      if (changes.length) steps.push({ resource: 'thin-client', action: 'update', name: t.mac, changes, call: { method: 'PATCH', path: `/v1/thinclients/${enc(t.mac)}`, body: bodyOf(changes) } });
    }
  }
  return steps;
}

// ---- netboot ----

/** The daemon's netboot as one whole setting; one the daemon's --netboot file sets is only compared. */
function netbootSteps(want: SiteFile['netboot'], have: NetbootStatus, out: SitePlan): Step[] {
  if (want === undefined || same(want, have.config)) return [];
  if (have.source === 'serve') {
    out.conflicts.push(`netboot: the daemon's --netboot ${have.file ?? ''} sets it; edit that file, or remove the option and restart the daemon to set it here`);
    return [];
  }
  const interfaces = (c: { interfaces: Array<{ address: string; mode: string }> }) => c.interfaces.map((i) => `${i.address} (${i.mode})`).join(', ');
  const from = have.config ? interfaces(have.config as { interfaces: Array<{ address: string; mode: string }> }) : null;
  return [{ resource: 'netboot', action: have.config ? 'update' : 'create', name: 'netboot', changes: [{ field: 'interfaces', from, to: interfaces(want) }], call: { method: 'PUT', path: '/v1/netboot', body: want } }];
}

// ---- deletes (--prune) ----

function pruneSteps(site: SiteFile, state: SiteState, out: SitePlan): Step[] {
  const del = (resource: StepResource, name: string, path: string): Step => ({ resource, action: 'delete', name, changes: [], call: { method: 'DELETE', path } });
  const wanted = (list: readonly string[]) => new Set(list);
  const steps: Step[] = [];
  if (site.netboot === undefined && state.netboot.source === 'api') steps.push(del('netboot', 'netboot', '/v1/netboot'));
  const tcs = wanted(site.thinClients.map((t) => t.mac));
  for (const t of state.thinClients) if (!tcs.has(t.mac)) steps.push(del('thin-client', t.mac, `/v1/thinclients/${enc(t.mac)}`));
  const pools = wanted(site.pools.map((p) => p.name));
  for (const p of state.pools) if (!pools.has(p.name)) steps.push(del('pool', p.name, `/v1/pools/${enc(p.name)}`));
  const images = wanted(site.images.map((i) => i.name));
  for (const i of state.images) {
    if (images.has(i.name)) continue;
    if (i.currentVersion === null) out.notes.push(`image ${i.name} is kept: it has no version yet (being installed)`);
    else steps.push(del('image', i.name, `/v1/images/${enc(i.name)}`));
  }
  const sources = wanted(site.directorySources.map((s) => s.name));
  for (const s of state.directorySources) if (s.origin === 'console' && !sources.has(s.name)) steps.push(del('directory-source', s.name, `/v1/directory/sources/${enc(s.name)}`));
  const users = wanted(site.users.map((u) => u.name));
  for (const u of state.users) {
    if (users.has(u.name) || u.directory) continue;
    if (u.name === state.self) out.notes.push(`user ${u.name} is kept: it is the account running this apply`);
    else steps.push(del('user', u.name, `/v1/users/${enc(u.name)}`));
  }
  const hosts = wanted(site.hosts.map((h) => h.name));
  // Only a file that manages hosts hears about the others.
  if (site.hosts.length) for (const h of state.hosts) if (!hosts.has(h.name)) out.notes.push(`host ${h.name} is kept: hosts leave with \`ardesia host remove\`, never by the site file`);
  const groups = wanted(site.groups);
  for (const g of state.groups) if (!groups.has(g.name)) steps.push(del('group', g.name, `/v1/groups/${enc(g.name)}`));
  return steps;
}

/**
 * The ordered steps: groups before the users in them, users and groups before the pools that entitle them and the
 * sources that map to them, images and host labels before pools, pools before the thin clients that name them, then
 * netboot; the site settings last
 * (requiring two-factor sign-in must not lock out the administrator midway). Deletes, only with prune, run in reverse.
 */
export function sitePlan(site: SiteFile, state: SiteState, opts: { prune: boolean }): SitePlan {
  const out: SitePlan = { steps: [], conflicts: [], notes: [] };
  for (const u of state.users) if (u.directory) out.notes.push(`user ${u.name} is left to the directory source ${u.directory.source}`);
  for (const s of state.directorySources) if (s.origin === 'file') out.notes.push(`directory source ${s.name} is left to the daemon's --directory file`);
  const haveGroups = new Set(state.groups.map((g) => g.name));
  const groups: Step[] = site.groups.filter((g) => !haveGroups.has(g)).map((g) => ({ resource: 'group', action: 'create', name: g, changes: [], call: { method: 'POST', path: '/v1/groups', body: { name: g } } }));
  const settings = diff(['adminsMustUseMfa'], state.settings as unknown as Record<string, unknown>, site.settings).filter((c) => c.to !== null);
  out.steps = [
    ...groups,
    ...userSteps(site.users, state.users, out),
    ...sourceSteps(site.directorySources, state.directorySources, out),
    ...imageSteps(site.images, state.images, out),
    ...hostSteps(site.hosts, state.hosts, out),
    ...poolSteps(site.pools, state.pools),
    ...thinClientSteps(site.thinClients, state.thinClients),
    ...netbootSteps(site.netboot, state.netboot, out),
    ...(settings.length ? [{ resource: 'settings', action: 'update', name: 'site', changes: settings, call: { method: 'PATCH', path: '/v1/settings', body: bodyOf(settings) } } satisfies Step] : []),
    ...(opts.prune ? pruneSteps(site, state, out) : []),
  ];
  return out;
}

const shown = (v: unknown) => (v === null || v === undefined ? '-' : typeof v === 'string' && v !== '' ? v : JSON.stringify(v));
const SIGN: Record<StepAction, string> = { create: '+', update: '~', delete: '-' };

/** One line per step: `~ update pool lab: warmSpares 1 → 0`. */
export function stepText(step: Step): string {
  const what = `${SIGN[step.action]} ${step.action} ${step.resource} ${step.name}`;
  if (!step.changes.length) return what;
  const fields = step.action === 'create' ? step.changes.map((c) => `${c.field}=${shown(c.to)}`) : step.changes.map((c) => `${c.field} ${shown(c.from)} → ${shown(c.to)}`);
  return `${what}: ${fields.join(', ')}`;
}

// `ardesia export` (pure): today's site as a site file whose apply is a no-op.
import { stringify } from 'yaml';
import type { ImageInfo } from '../contract/images.js';
import { POOL_SETTINGS } from './plan.js';
import type { SiteState } from './state.js';

/** An image as an import of its current version's file (its sha256 is that file's), so that it can be rebuilt from a copy. */
function imageEntry(img: ImageInfo): Record<string, unknown> {
  const cur = img.versions.find((v) => v.version === img.currentVersion)!;
  const b = img.boot;
  const boot = { arch: b.arch, firmware: b.firmware, memoryMiB: b.memoryMiB, ...(b.kernel ? { kernel: b.kernel } : {}), ...(b.initrd ? { initrd: b.initrd } : {}), ...(b.cmdline ? { cmdline: b.cmdline } : {}) };
  return { name: img.name, from: cur.path, format: 'qcow2', sha256: cur.sha256, boot, current: img.currentVersion };
}

const defined = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== null));

export function siteExport(state: SiteState): Record<string, unknown> {
  const localUsers = state.users.filter((u) => !u.directory);
  return {
    settings: { ...state.settings },
    images: state.images.filter((i) => i.currentVersion !== null).map(imageEntry),
    groups: state.groups.map((g) => g.name),
    users: localUsers.map((u) => ({ name: u.name, fullName: u.fullName, roles: u.roles.filter((r) => r !== 'user'), groups: u.groups, keyboardLayout: u.keyboardLayout, kiosk: u.kiosk, disabled: u.disabled })),
    directorySources: state.directorySources.filter((s) => s.origin === 'console').map((s) => defined({ ...s.settings, name: s.name })),
    hosts: state.hosts.map((h) => ({ name: h.name, labels: h.labels })),
    pools: state.pools.map((p) => defined({ name: p.name, ...Object.fromEntries(POOL_SETTINGS.map((k) => [k, (p as unknown as Record<string, unknown>)[k]])) })),
    ...(state.netboot.config ? { netboot: state.netboot.config } : {}),
    thinClients: state.thinClients.map((t) => defined({ mac: t.mac, name: t.name, place: t.place, pool: t.pool, ...(t.state === 'new' ? {} : { state: t.state }), keyboardLayout: t.keyboardLayout, resolution: t.resolution, bootParams: t.bootParams, kioskUser: t.kioskUser })),
  };
}

export function siteExportText(state: SiteState): string {
  const skipped = state.images.filter((i) => i.currentVersion === null).map((i) => `# image ${i.name} has no version yet (being installed): left out\n`).join('');
  return `# Ardesia site, exported ${new Date().toISOString()}: \`ardesia plan -f FILE\` shows no change.\n${skipped}${stringify(siteExport(state))}`;
}

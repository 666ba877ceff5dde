// Create or edit a pool: the fields of src/contract/pools.ts; the server validates and names what to fix.
import { useEffect, useState } from 'react';
import { poolCreate, poolPatch } from '../lib/api';
import type { ImageInfo, Pool, PoolView } from '../lib/types';
import { ActionButton, Field } from '../lib/ui';
import { parseSpareRule, SPARE_RULE_FORMAT, type SpareRule, spareRuleText } from '../../../src/contract/pool-schedule';

interface Draft {
  name: string;
  image: string;
  version: string;
  minDesktops: number;
  maxDesktops: number;
  warmSpares: number;
  coldSpares: number;
  vcpus: number;
  memoryMiB: number;
  persistent: boolean;
  /** A blank home wiped at every reset instead of the user's volume: the pool may run on hosts without shared storage. */
  scratchHome: boolean;
  userReset: boolean;
  onLogoff: Pool['onLogoff'];
  idleDisconnectMinutes: number;
  idleLogoffMinutes: number;
  spice: boolean;
  spiceListen: string;
  networkMode: Pool['network']['mode'];
  bridge: string;
  natRestrict: boolean;
  /** "host:port, host:port": the destinations a restricted NAT desktop may reach. */
  natAllow: string;
  /** Unrestricted NAT only: the desktops may reach this host's own addresses (the NAT guard refuses them otherwise). */
  natHostAccess: boolean;
  users: string;
  groups: string;
  /** One spare-schedule rule a line, as the CLI writes them ("mon-fri 07:45 40"). */
  schedule: string;
  /** auto (a new pool only): the daemon chooses, restore where the image's guest helper supports it. */
  startMode: Pool['startMode'] | 'auto';
}

const list = (s: string): string[] =>
  s
    .split(/[\s,]+/)
    .map((x) => x.trim())
    .filter(Boolean);

function draftOf(pool: PoolView | undefined, images: ImageInfo[]): Draft {
  return {
    name: pool?.name ?? '',
    image: pool?.image ?? images[0]?.name ?? '',
    version: String(pool?.version ?? 'latest'),
    minDesktops: pool?.minDesktops ?? 0,
    maxDesktops: pool?.maxDesktops ?? 10,
    warmSpares: pool?.warmSpares ?? 1,
    coldSpares: pool?.coldSpares ?? 0,
    vcpus: pool?.vcpus ?? 1,
    memoryMiB: pool?.memoryMiB ?? 1024,
    persistent: pool?.persistent ?? false,
    scratchHome: pool?.home === 'scratch',
    userReset: pool?.userReset ?? false,
    onLogoff: pool?.onLogoff ?? 'reset',
    idleDisconnectMinutes: pool?.idleDisconnectMinutes ?? 0,
    idleLogoffMinutes: pool?.idleLogoffMinutes ?? 0,
    spice: !!pool?.spice,
    spiceListen: pool?.spice?.listen ?? '127.0.0.1',
    networkMode: pool?.network.mode ?? 'none',
    bridge: pool?.network.mode === 'bridge' ? pool.network.bridge : '',
    natRestrict: pool?.network.mode === 'nat' && pool.network.allow !== undefined,
    natAllow: pool?.network.mode === 'nat' ? (pool.network.allow ?? []).map((a) => `${a.host}:${a.port}`).join(', ') : '',
    natHostAccess: pool?.network.mode === 'nat' && pool.network.hostAccess === true,
    users: pool?.entitled.users.join(', ') ?? '',
    groups: pool?.entitled.groups.join(', ') ?? '',
    schedule: (pool?.spareSchedule ?? []).map(spareRuleText).join('\n'),
    startMode: pool?.startMode ?? 'auto',
  };
}

/** The draft's network; a malformed allow item is sent as written so the server's message names it. */
function networkOf(d: Draft): Pool['network'] {
  if (d.networkMode === 'bridge') return { mode: 'bridge', bridge: d.bridge.trim() };
  if (d.networkMode === 'none') return { mode: 'none' };
  if (!d.natRestrict) return d.natHostAccess ? { mode: 'nat', hostAccess: true } : { mode: 'nat' };
  const allow = list(d.natAllow).map((item) => {
    const at = item.lastIndexOf(':');
    return { host: at < 0 ? item : item.slice(0, at), port: at < 0 ? Number.NaN : Number(item.slice(at + 1)) };
  });
  return { mode: 'nat', allow };
}

/** The schedule's lines as rules; a line that is not one stops the save with what to write. */
function scheduleOf(text: string): SpareRule[] {
  return text
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => {
      const rule = parseSpareRule(line);
      if (typeof rule === 'string') throw new Error(`Spare schedule: ${rule}`);
      return rule;
    });
}

function bodyOf(d: Draft): Partial<Pool> & { name: string; image: string } {
  return {
    name: d.name,
    image: d.image,
    version: d.version === 'latest' ? 'latest' : Number(d.version),
    minDesktops: d.minDesktops,
    maxDesktops: d.maxDesktops,
    warmSpares: d.warmSpares,
    coldSpares: d.coldSpares,
    vcpus: d.vcpus,
    memoryMiB: d.memoryMiB,
    persistent: d.persistent,
    home: d.scratchHome ? 'scratch' : 'volume',
    userReset: d.userReset,
    ...(d.persistent ? { onLogoff: d.onLogoff } : {}),
    idleDisconnectMinutes: d.idleDisconnectMinutes,
    idleLogoffMinutes: d.idleLogoffMinutes,
    spice: d.spice ? { listen: d.spiceListen.trim() || '127.0.0.1' } : null,
    network: networkOf(d),
    entitled: { users: list(d.users), groups: list(d.groups) },
    spareSchedule: scheduleOf(d.schedule),
    ...(d.startMode === 'auto' ? {} : { startMode: d.startMode }),
  };
}

export function PoolForm(props: { pool?: PoolView; images: ImageInfo[]; onDone: () => void }) {
  const [d, setD] = useState<Draft>(() => draftOf(props.pool, props.images));
  // Opened before the image list arrived: the select shows the first image, so the draft takes it too.
  const firstImage = props.images[0]?.name;
  useEffect(() => {
    if (firstImage) setD((old) => (old.image ? old : { ...old, image: firstImage }));
  }, [firstImage]);
  const set = <K extends keyof Draft>(k: K, v: Draft[K]) => setD((old) => ({ ...old, [k]: v }));
  const num = (k: keyof Draft, label: string, min = 0) => (
    <Field label={label}>
      <input type="number" min={min} value={d[k] as number} onChange={(e) => set(k, Number(e.target.value) as never)} />
    </Field>
  );
  const versions = props.images.find((i) => i.name === d.image)?.versions ?? [];
  return (
    <form className="card form-grid" aria-label={props.pool ? `Edit pool ${props.pool.name}` : 'Create a pool'} onSubmit={(e) => e.preventDefault()}>
      <h2>{props.pool ? `Edit ${props.pool.name}` : 'New pool'}</h2>
      <Field label="Name">
        <input value={d.name} disabled={!!props.pool} onChange={(e) => set('name', e.target.value)} />
      </Field>
      <Field label="Image">
        <select value={d.image} onChange={(e) => set('image', e.target.value)}>
          {props.images.map((i) => (
            <option key={i.name} value={i.name}>
              {i.name}
            </option>
          ))}
        </select>
      </Field>
      <Field label="Version">
        <select value={d.version} onChange={(e) => set('version', e.target.value)}>
          <option value="latest">latest (follows publishes)</option>
          {versions.map((v) => (
            <option key={v.version} value={String(v.version)}>
              {v.version}
            </option>
          ))}
        </select>
      </Field>
      {num('minDesktops', 'Minimum desktops')}
      {num('maxDesktops', 'Maximum desktops', 1)}
      {num('warmSpares', 'Warm spares (running, waiting)')}
      {num('coldSpares', 'Cold spares (cloned, stopped)')}
      <Field label="Spare schedule (warm spares by day and time)" hint={`one rule a line: ${SPARE_RULE_FORMAT}; in the daemon's time zone; replaces the warm spares above while set; booted early enough to be warm at the time`}>
        <textarea rows={3} value={d.schedule} onChange={(e) => set('schedule', e.target.value)} />
      </Field>
      {num('vcpus', 'vCPUs', 1)}
      {num('memoryMiB', 'Memory (MiB)', 64)}
      {num('idleDisconnectMinutes', 'Disconnect idle clients after (minutes, 0 = never)')}
      {num('idleLogoffMinutes', 'Log off disconnected sessions after (minutes, 0 = never)')}
      <label className="inline">
        <input type="checkbox" checked={d.persistent} onChange={(e) => set('persistent', e.target.checked)} /> Persistent (a desktop stays its first user's)
      </label>
      <label className="inline">
        <input type="checkbox" checked={d.scratchHome} onChange={(e) => set('scratchHome', e.target.checked)} /> Scratch home (blank at every reset, nothing kept; runs on hosts without shared storage too)
      </label>
      <label className="inline">
        <input type="checkbox" checked={d.userReset} onChange={(e) => set('userReset', e.target.checked)} /> Users may reset their own desktop
      </label>
      <label className="inline">
        <input type="checkbox" checked={d.spice} onChange={(e) => set('spice', e.target.checked)} /> SPICE display for native clients (.vv in the portal)
      </label>
      {d.spice && (
        <Field label="SPICE listen address" hint="127.0.0.1 = this machine only; the address thin clients reach to open it to them">
          <input value={d.spiceListen} onChange={(e) => set('spiceListen', e.target.value)} />
        </Field>
      )}
      <Field label="Network" hint="none: no network card; NAT: through this host (QEMU user networking); bridge: each desktop on a host bridge with its own MAC, locked">
        <select value={d.networkMode} onChange={(e) => set('networkMode', e.target.value as Draft['networkMode'])}>
          <option value="none">none</option>
          <option value="nat">NAT through this host</option>
          <option value="bridge">bridge</option>
        </select>
      </Field>
      {d.networkMode === 'bridge' && (
        <Field label="Bridge" hint="a Linux bridge on the host, e.g. br0; addresses come from the DHCP server on that link">
          <input value={d.bridge} onChange={(e) => set('bridge', e.target.value)} />
        </Field>
      )}
      {d.networkMode === 'nat' && (
        <label className="inline">
          <input type="checkbox" checked={d.natRestrict} onChange={(e) => set('natRestrict', e.target.checked)} /> Restrict: reach only the destinations listed
        </label>
      )}
      {d.networkMode === 'nat' && !d.natRestrict && (
        <label className="inline">
          <input type="checkbox" checked={d.natHostAccess} onChange={(e) => set('natHostAccess', e.target.checked)} /> Open to this host: the desktops reach its loopback, its addresses and the daemon's ports (only for desktops you trust)
        </label>
      )}
      {d.networkMode === 'nat' && d.natRestrict && (
        <Field label="Allowed destinations" hint="host:port (TCP), separated by commas, reached at their own address; nothing else, no DNS">
          <input value={d.natAllow} onChange={(e) => set('natAllow', e.target.value)} />
        </Field>
      )}
      <Field label="Start desktops by" hint="restore: clones of a template (a desktop booted once and saved), ready in about a second; not with a bridged network">
        <select value={d.startMode} onChange={(e) => set('startMode', e.target.value as Draft['startMode'])}>
          {!props.pool && <option value="auto">restore where the image supports it, else boot</option>}
          <option value="boot">booting each one</option>
          <option value="restore">restoring a template</option>
        </select>
      </Field>
      {d.persistent && (
        <Field label="At logoff">
          <select value={d.onLogoff} onChange={(e) => set('onLogoff', e.target.value as Pool['onLogoff'])}>
            <option value="keep">keep the system disk</option>
            <option value="keep-until-update">keep it until the image is updated</option>
            <option value="reset">reset it</option>
          </select>
        </Field>
      )}
      <Field label="Entitled users" hint="names separated by commas">
        <input value={d.users} onChange={(e) => set('users', e.target.value)} />
      </Field>
      <Field label="Entitled groups" hint="names separated by commas">
        <input value={d.groups} onChange={(e) => set('groups', e.target.value)} />
      </Field>
      <div className="form-actions">
        <ActionButton
          kind="primary"
          label={props.pool ? 'Save pool' : 'Create pool'}
          disabledReason={!d.name ? 'give the pool a name' : !d.image ? 'create an image first' : false}
          action={async () => {
            const body = bodyOf(d);
            if (props.pool) {
              const { name: _name, ...changes } = body;
              await poolPatch(props.pool.name, changes);
            } else await poolCreate(body);
            props.onDone();
          }}
        />
        <button type="button" className="btn" onClick={props.onDone}>
          Cancel
        </button>
      </div>
    </form>
  );
}

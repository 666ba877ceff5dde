// `ardesia pool …` and `ardesia session …`: pools of desktops, the broker, and sessions — over the API only.
import { terminalSafeLine } from '../terminal-safe.js';
import { type Command, InvalidArgumentError } from 'commander';
import { type Forecast, MAX_FORECAST_WEEKS, parseSpareRule, SPARE_RULE_FORMAT, type SpareRule, spareRuleText, WEEKDAYS } from '../../contract/pool-schedule.js';
import { type DesktopView, MAX_IDLE_MINUTES, MAX_POOL_DESKTOPS, OnLogoff, PoolHome, type PoolView, StartMode, type SessionInfo, poolNetworkText } from '../../contract/pools.js';
import { MAX_VCPUS } from '../../contract/vm.js';
import { commaList, flag, MiB, nonNegativeInt, oneOf, positiveInt, versionOrLatest } from '../options.js';
import { output, table } from '../output.js';
import { client, diskSize, enc, memorySize, wantsJson } from './image.js';
import { networkFromFlags } from '../network-flags.js';
import type { TimelineView } from '../../contract/timeline.js';
import { timelineText } from '../timeline-text.js';

type PoolFlags = {
  image?: string;
  version?: number | 'latest';
  min?: number;
  max?: number;
  warm?: number;
  cold?: number;
  vcpus?: number;
  memory?: number;
  homeSize?: number;
  home?: PoolHome;
  persistent?: boolean;
  onLogoff?: OnLogoff;
  idleDisconnect?: number;
  idleLogoff?: number;
  perUser?: number;
  users?: string[];
  groups?: string[];
  spice?: string;
  network?: string;
  natAllow?: string;
  natHostAccess?: boolean;
  requireLabels?: string[];
  avoidLabels?: string[];
  schedule?: SpareRule[];
  start?: StartMode;
};

/** The pool fields the flags give (only those given: `pool set` changes nothing else). */
function poolFields(f: PoolFlags): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (f.image) out.image = f.image;
  if (f.version !== undefined) out.version = f.version;
  if (f.min !== undefined) out.minDesktops = f.min;
  if (f.max !== undefined) out.maxDesktops = f.max;
  if (f.warm !== undefined) out.warmSpares = f.warm;
  if (f.cold !== undefined) out.coldSpares = f.cold;
  if (f.vcpus !== undefined) out.vcpus = f.vcpus;
  if (f.memory !== undefined) out.memoryMiB = Math.round(f.memory / MiB);
  if (f.homeSize !== undefined) out.homeSizeBytes = f.homeSize;
  if (f.home !== undefined) out.home = f.home;
  if (f.persistent !== undefined) out.persistent = f.persistent;
  if (f.onLogoff) out.onLogoff = f.onLogoff;
  if (f.idleDisconnect !== undefined) out.idleDisconnectMinutes = f.idleDisconnect;
  if (f.idleLogoff !== undefined) out.idleLogoffMinutes = f.idleLogoff;
  if (f.perUser !== undefined) out.maxDesktopsPerUser = f.perUser;
  if (f.spice !== undefined) out.spice = f.spice === 'off' ? null : { listen: f.spice };
  if (f.network !== undefined || f.natAllow !== undefined || f.natHostAccess) out.network = networkFromFlags(f);
  if (f.requireLabels !== undefined || f.avoidLabels !== undefined) out.hostLabels = { require: f.requireLabels ?? [], avoid: f.avoidLabels ?? [] };
  if (f.schedule !== undefined) out.spareSchedule = f.schedule;
  if (f.start !== undefined) out.startMode = f.start;
  if (f.users !== undefined || f.groups !== undefined) out.entitled = { users: f.users ?? [], groups: f.groups ?? [] };
  return out;
}

function poolOptions(cmd: Command): Command {
  const desktops = nonNegativeInt(MAX_POOL_DESKTOPS);
  const minutes = nonNegativeInt(MAX_IDLE_MINUTES);
  return cmd
    .option('--version <n|latest>', 'image version desktops are cloned from (latest follows publishes: rolling update)', versionOrLatest)
    .option('--min <n>', 'desktops kept in the pool at least', desktops)
    .option('--max <n>', 'desktops in the pool at most', positiveInt(MAX_POOL_DESKTOPS))
    .option('--warm <n>', 'warm spares: booted, waiting for a user', desktops)
    .option('--cold <n>', 'cold spares: cloned but stopped, quick to start', desktops)
    .option('--vcpus <n>', 'vCPUs per desktop', positiveInt(MAX_VCPUS))
    .option('--memory <size>', 'memory per desktop, e.g. 1G or 512M', memorySize)
    .option('--home-size <size>', 'size of a new user home volume (or of a scratch home)', diskSize)
    .option('--home <volume|scratch>', "volume: each user's home volume, kept (hosts with the shared data folder only); scratch: a blank disk wiped at every reset, nothing kept (runs on hosts without shared storage too)", oneOf(PoolHome.options))
    .option('--persistent', 'desktops stay their first user’s')
    .option('--on-logoff <reset|keep|keep-until-update>', 'what a persistent desktop does at logoff', oneOf(OnLogoff.options))
    .option('--idle-disconnect <minutes>', 'close display clients after this long without input (0 = never)', minutes)
    .option('--idle-logoff <minutes>', 'log a disconnected session off after this long (0 = never)', minutes)
    .option('--per-user <n>', 'desktops one user may hold in this pool', positiveInt(MAX_POOL_DESKTOPS))
    .option('--users <a,b>', 'entitled users (comma-separated)', commaList)
    .option('--groups <g,h>', 'entitled groups (comma-separated)', commaList)
    .option('--require-labels <a,b>', 'host labels the desktops need (comma-separated; with --avoid-labels, sets both)', commaList)
    .option('--avoid-labels <a,b>', 'host labels the desktops stay off (comma-separated)', commaList)
    .option('--spice <address|off>', 'give desktops a SPICE display for native clients (.vv), listening on this address (127.0.0.1 for this host only); off removes it')
    .option('--network <none|nat|bridge:BR>', 'the desktops\' network card: none, QEMU NAT, or a tap on Linux bridge BR (stable MAC, locked)')
    .option('--nat-allow <host:port,…>', 'restricted NAT: the guest reaches only these TCP destinations, at their own address (empty: nothing)')
    .option('--schedule <rule>', `warm spares by day and time, repeatable: ${SPARE_RULE_FORMAT}, in the daemon's time zone; replaces --warm while set; '' clears`, scheduleRule)
    .option('--start <boot|restore>', 'how desktops start: boot, or restore a clone of the pool\'s template (a booted desktop\'s saved state); default: restore where the image\'s guest helper supports it (images built by `image create --build debian`), boot otherwise', oneOf(StartMode.options))
    .option('--nat-host-access', 'unrestricted NAT that may also reach this host\'s own addresses (10.0.2.2 = its loopback); refused by default');
}

const versions = (p: PoolView) =>
  Object.entries(p.counts.byVersion)
    .map(([v, n]) => `v${v}:${n}`)
    .join(' ') || '-';
const states = (p: PoolView) =>
  Object.entries(p.counts.byState)
    .map(([s, n]) => `${s}:${n}`)
    .join(' ') || '-';

function poolText(p: PoolView): string {
  const lines = [
    `pool ${p.name}: image ${p.image} ${p.version === 'latest' ? `latest (now v${p.currentVersion ?? '-'})` : `v${p.version}`}`,
    `  desktops ${p.counts.total} (min ${p.minDesktops}, max ${p.maxDesktops}); spares warm ${p.warmSpares}, cold ${p.coldSpares}`,
    `  states   ${states(p)}`,
    `  versions ${versions(p)}${p.pendingAtLogoff.length ? `; moving at logoff: ${p.pendingAtLogoff.join(', ')}` : ''}`,
    `  each     ${p.vcpus} vCPU, ${p.memoryMiB} MiB; ${p.persistent ? `persistent (on logoff: ${p.onLogoff})` : 'non-persistent (reset at logoff)'}; home: ${p.home === 'scratch' ? 'scratch (wiped at reset)' : "the user's volume"}`,
    `  entitled users: ${p.entitled.users.join(', ') || '-'}; groups: ${p.entitled.groups.join(', ') || '-'}`,
    `  display  browser (noVNC)${p.spice ? `, SPICE on ${p.spice.listen} (native clients: .vv)` : ''}`,
    `  network  ${poolNetworkText(p.network)}`,
    `  hosts    ${hostLabelsText(p)}`,
    ...scheduleLines(p),
    `  start    ${templateText(p)}`,
    ...(p.cannotPlace ? [`  CANNOT PLACE (${p.cannotPlace.code}): ${p.cannotPlace.message}`] : []),
  ];
  return lines.join('\n');
}

/** The start mode, and in restore mode what the template does (desktops boot while it is not ready). */
function templateText(p: PoolView): string {
  const t = p.template;
  if (p.startMode === 'boot' || !t) return 'boot';
  const unknown = t.kernelVmgenid === 'unknown' ? '; the image kernel\'s CONFIG_VMGENID is unknown (no kernel config in the guest): clones may share random numbers' : '';
  if (t.state === 'ready') return `restore (template ${t.key} ready: booted in ${t.bootMs} ms, saved in ${t.saveMs} ms${t.lastRestoreMs !== null ? `; last clone restored in ${t.lastRestoreMs} ms` : ''}${unknown})`;
  return `restore, template ${t.state.toUpperCase()}: ${t.reason ?? ''}`;
}

/** Each --schedule adds a rule; an empty one clears the schedule (and the rules given before it). */
function scheduleRule(text: string, before: SpareRule[] | undefined): SpareRule[] {
  if (text.trim() === '') return [];
  const rule = parseSpareRule(text);
  if (typeof rule === 'string') throw new InvalidArgumentError(rule);
  return [...(before ?? []), rule];
}

function scheduleLines(p: PoolView): string[] {
  if (p.spareSchedule.length === 0) return [];
  const s = p.schedule;
  const lines = [`  schedule ${p.spareSchedule.map(spareRuleText).join('; ')}${s ? ` (time zone ${s.timeZone})` : ''}`];
  if (!s) return lines;
  const boot = `boot ~${s.bootSeconds} s (${s.bootsMeasured ? `measured over ${s.bootsMeasured} boot${s.bootsMeasured === 1 ? '' : 's'}` : 'assumed: none measured yet'})`;
  lines.push(`  warm now ${s.warmTarget}${s.inEffect ? ` (rule in effect: ${s.inEffect})` : ''}; ${boot}; hosts run ${s.capacity ?? '?'} of this pool`);
  if (s.next) lines.push(`  next     ${s.next.rule} at ${s.next.at}${s.next.bootsFrom < s.next.at ? `, booting from ${s.next.bootsFrom}` : ''}`);
  for (const problem of s.problems) lines.push(`  SCHEDULE CANNOT BE MET: ${problem}`);
  return lines;
}

/** Desktops needed per hour (rows: days, columns: hours), then the capacity, problems and the proposal to apply. */
function forecastText(pool: string, fc: Forecast): string {
  const head = ['DAY', ...Array.from({ length: 24 }, (_, h) => String(h).padStart(2, '0'))];
  const rows = WEEKDAYS.map((day) => [day, ...fc.hours.filter((h) => h.day === day).map((h) => (h.desktops ? String(h.desktops) : '.'))]);
  const apply = fc.proposed.map((r) => `--schedule '${spareRuleText(r)}'`).join(' ');
  return [
    `pool ${pool}: ${fc.sessionsSeen} session(s) over the last ${fc.weeks} week(s); desktops needed per hour (p95), time zone ${fc.timeZone}`,
    table(head, rows),
    `hosts run ${fc.capacity ?? '?'} desktops of this pool at once`,
    ...fc.problems.map((p) => `SHORT: ${p}`),
    `proposed schedule: ${fc.proposed.map(spareRuleText).join('; ')}`,
    `apply it: ardesia pool forecast ${pool} --weeks ${fc.weeks} --apply   (or: ardesia pool set ${pool} ${apply})`,
  ].join('\n');
}

function hostLabelsText(p: PoolView): string {
  const { require, avoid } = p.hostLabels;
  if (!require.length && !avoid.length) return 'any host that is up';
  return [require.length ? `with ${require.join(', ')}` : '', avoid.length ? `without ${avoid.join(', ')}` : ''].filter(Boolean).join('; ');
}

const sessionRows = (sessions: SessionInfo[]) =>
  table(
    ['DESKTOP', 'POOL', 'USER', 'STATE', 'SINCE', 'CLIENTS', 'VERSION', 'CLIPBOARD'],
    sessions.map((s) => [s.desktop, s.pool, s.user, s.state, s.since, String(s.clients), String(s.imageVersion), s.clipboardReady ? 'ready' : 'waiting']),
  );

/** Why a failed desktop failed, under the table: the step and message, the VM's exit, the console's last line. */
function failureLines(pool: string, d: DesktopView): string[] {
  if (!d.failure) return [];
  const f = d.failure;
  return [
    '',
    `${d.name} failed (${f.step}): ${f.message}`,
    ...(f.vmExit ? [`  VM exit: ${f.vmExit}`] : []),
    ...(f.consoleLine ? [`  last console line: ${terminalSafeLine(f.consoleLine)}`] : []),
    `  try it again: ardesia pool retry ${pool} ${d.name}`,
  ];
}

export function registerPoolCommands(program: Command): void {
  const pool = program.command('pool').description('pools of desktops: spares, the broker, rolling image updates');

  pool
    .command('list')
    .description('list pools (users: the pools they may use)')
    .action(async (_f: unknown, cmd: Command) => {
      const pools = await client(cmd).request<PoolView[]>('GET', '/v1/pools');
      output(wantsJson(cmd), wantsJson(cmd) ? pools : table(['POOL', 'IMAGE', 'VERSION', 'DESKTOPS', 'STATES'], pools.map((p) => [p.name, p.image, versions(p), String(p.counts.total), states(p)])));
    });

  pool
    .command('show')
    .description('show a pool: definition, target version, desktops by state and version')
    .argument('<pool>')
    .action(async (name: string, _f: unknown, cmd: Command) => {
      const p = await client(cmd).request<PoolView>('GET', `/v1/pools/${enc(name)}`);
      output(wantsJson(cmd), wantsJson(cmd) ? p : poolText(p));
    });

  poolOptions(pool.command('create').description('create a pool of desktops cloned from a gold image').argument('<pool>').requiredOption('--image <image>', 'the gold image')).action(
    async (name: string, flags: PoolFlags, cmd: Command) => {
      const p = await client(cmd).request<PoolView>('POST', '/v1/pools', { name, ...poolFields(flags) });
      output(wantsJson(cmd), wantsJson(cmd) ? p : `ardesia: pool ${name} created; spares come up in the background (ardesia pool show ${name})`);
    },
  );

  poolOptions(pool.command('set').description('change a pool (only the fields given)').argument('<pool>').option('--image <image>', 'another gold image')).action(
    async (name: string, flags: PoolFlags, cmd: Command) => {
      const p = await client(cmd).request<PoolView>('PATCH', `/v1/pools/${enc(name)}`, poolFields(flags));
      output(wantsJson(cmd), wantsJson(cmd) ? p : poolText(p));
    },
  );

  pool
    .command('forecast')
    .description('desktops and logins per hour of the week from past sessions (p95 over the weeks), what the hosts allow, and a proposed spare schedule')
    .argument('<pool>')
    .addOption(flag('--weeks <n>', 'weeks of past sessions to read', positiveInt(MAX_FORECAST_WEEKS), '4'))
    .addOption(flag('--min-warm <n>', 'the proposal keeps at least this many warm spares at every hour', nonNegativeInt(MAX_POOL_DESKTOPS), '1'))
    .option('--apply', "set the proposed schedule on the pool (as pool set --schedule …)")
    .action(async (name: string, f: { weeks: number; minWarm: number; apply?: boolean }, cmd: Command) => {
      const api = client(cmd);
      const fc = await api.request<Forecast>('GET', `/v1/pools/${enc(name)}/forecast?weeks=${f.weeks}&minWarm=${f.minWarm}`);
      if (!f.apply) return output(wantsJson(cmd), wantsJson(cmd) ? fc : forecastText(name, fc));
      const p = await api.request<PoolView>('PATCH', `/v1/pools/${enc(name)}`, { spareSchedule: fc.proposed });
      output(wantsJson(cmd), wantsJson(cmd) ? p : `${forecastText(name, fc)}\n\napplied:\n${poolText(p)}`);
    });

  pool
    .command('delete')
    .description('delete a pool and retire its desktops (refused while users have sessions)')
    .argument('<pool>')
    .action(async (name: string, _f: unknown, cmd: Command) => {
      const r = await client(cmd).request<{ deleted: string; desktopsRetired: number }>('DELETE', `/v1/pools/${enc(name)}`);
      output(wantsJson(cmd), wantsJson(cmd) ? r : `ardesia: pool ${name} deleted (${r.desktopsRetired} desktops retired)`);
    });

  pool
    .command('desktops')
    .description("list a pool's desktops: state, user, host, image version, since when")
    .argument('<pool>')
    .action(async (name: string, _f: unknown, cmd: Command) => {
      const ds = await client(cmd).request<DesktopView[]>('GET', `/v1/pools/${enc(name)}/desktops`);
      if (wantsJson(cmd)) return output(true, ds);
      const rows = table(['DESKTOP', 'STATE', 'USER', 'HOST', 'VERSION', 'SINCE'], ds.map((d) => [d.name, d.state, d.user ?? '-', d.host ?? '-', String(d.imageVersion), d.since]));
      output(false, [rows, ...ds.flatMap((d) => failureLines(name, d))].join('\n'));
    });

  pool
    .command('retry')
    .description('try a failed desktop again: a fresh clone (a persistent owner’s kept disk is booted again as it is)')
    .argument('<pool>')
    .argument('<desktop>')
    .action(async (name: string, desktop: string, _f: unknown, cmd: Command) => {
      const d = await client(cmd).request<DesktopView>('POST', `/v1/pools/${enc(name)}/desktops/${enc(desktop)}/retry`);
      output(wantsJson(cmd), wantsJson(cmd) ? d : `ardesia: desktop ${desktop} is ${d.state}; the pool boots it again as its spares need`);
    });

  pool
    .command('connect')
    .description('get a desktop of the pool (your session, a warm spare, a cold one started or a new clone) and wait for the session')
    .argument('<pool>')
    .option('--no-wait', 'return at once, before the session has started')
    .action(async (name: string, flags: { wait: boolean }, cmd: Command) => {
      const r = await client(cmd).request<{ desktop: DesktopView; session: SessionInfo }>('POST', `/v1/pools/${enc(name)}/connect`, { wait: flags.wait });
      output(wantsJson(cmd), wantsJson(cmd) ? r : `ardesia: your desktop is ${r.desktop.name} (${r.desktop.state}, image version ${r.desktop.imageVersion})`);
    });

  pool
    .command('reset')
    .description('re-clone a desktop out of session from the pool’s image version')
    .argument('<pool>')
    .argument('<desktop>')
    .action(async (name: string, desktop: string, _f: unknown, cmd: Command) => {
      const d = await client(cmd).request<DesktopView>('POST', `/v1/pools/${enc(name)}/desktops/${enc(desktop)}/reset`);
      output(wantsJson(cmd), wantsJson(cmd) ? d : `ardesia: desktop ${desktop} is ${d.state}`);
    });

  pool
    .command('retire')
    .description('remove a desktop out of session (the planner makes new spares as needed)')
    .argument('<pool>')
    .argument('<desktop>')
    .action(async (name: string, desktop: string, _f: unknown, cmd: Command) => {
      const r = await client(cmd).request<{ retired: string }>('DELETE', `/v1/pools/${enc(name)}/desktops/${enc(desktop)}`);
      output(wantsJson(cmd), wantsJson(cmd) ? r : `ardesia: desktop ${desktop} retired`);
    });

  const session = program.command('session').description('sessions: who uses which desktop since when');
  session
    .command('list')
    .description('list sessions (users: their own)')
    .action(async (_f: unknown, cmd: Command) => {
      const s = await client(cmd).request<SessionInfo[]>('GET', '/v1/sessions');
      output(wantsJson(cmd), wantsJson(cmd) ? s : sessionRows(s));
    });
  session
    .command('timeline')
    .description("administrators: a desktop's latest login, stage by stage from the request to the first frame")
    .argument('<desktop>')
    .option('--last <n>', 'the last n logins (at most 100)', positiveInt(100), 1)
    .action(async (desktop: string, flags: { last: number }, cmd: Command) => {
      const list = await client(cmd).request<TimelineView[]>('GET', `/v1/sessions/${enc(desktop)}/timeline?limit=${flags.last}`);
      output(wantsJson(cmd), wantsJson(cmd) ? list : list.length ? list.map(timelineText).join('\n\n') : `ardesia: no login recorded on ${desktop}`);
    });
  for (const [verb, desc] of [
    ['logoff', 'log a session off; a non-persistent desktop is then reset'],
    ['disconnect', 'close the display connections of a session; the session stays'],
  ] as const) {
    session
      .command(verb)
      .description(desc)
      .argument('<desktop>')
      .action(async (desktop: string, _f: unknown, cmd: Command) => {
        const s = await client(cmd).request<SessionInfo>('POST', `/v1/sessions/${enc(desktop)}/${verb}`);
        output(wantsJson(cmd), wantsJson(cmd) ? s : `ardesia: session on ${desktop} is ${s.state}`);
      });
  }
}

// `ardesia host check`: runs on this machine (no daemon): CPU, /dev/kvm, QEMU and a KVM probe.
import { Argument, type Command } from 'commander';
import { DEFAULT_PROBE_TIMEOUT_MS, formatHostReport, hostCheck } from '../../hypervisor/host/index.js';

import { duration, flag, nonNegativeInt, oneOf } from '../options.js';
import { EVICT_GRACE_DEFAULT_S, KSM_MODES, type HostDetail, type HostEviction, type HostView, type KsmMode, type KsmReport } from '../../contract/hosts.js';
import { terminalSafeLine } from '../terminal-safe.js';
import type { ApiClient } from '../client.js';
import { output, table } from '../output.js';
import { client, enc, wantsJson } from './image.js';

interface HostCheckFlags {
  json?: boolean;
  probeTimeout: number;
}

export function registerHostCommands(program: Command): void {
  const host = program.command('host').description('the hosts of the cluster (list, show, label, drain, undrain, evict, remove), and this machine\'s KVM check');
  host
    .command('check')
    .description('check VMX/SVM, EPT/NPT, nested virtualization, /dev/kvm and run a KVM probe guest (exit 1 only when QEMU is missing)')
    .option('--json', 'machine-readable output')
    .addOption(flag('--probe-timeout <ms>', 'how long the probe guest may take (or 5s)', duration({ bareUnit: 'ms', minMs: 100, maxMs: 600_000 }), String(DEFAULT_PROBE_TIMEOUT_MS)))
    .action(async (flags: HostCheckFlags, cmd: Command) => {
      const report = await hostCheck({ probeTimeoutMs: flags.probeTimeout });
      const json = flags.json === true || cmd.optsWithGlobals<{ json?: boolean }>().json === true;
      process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : `${formatHostReport(report)}\n`);
      if (report.qemu.version === null) process.exitCode = 1;
    });

  host
    .command('add')
    .description("print a one-time join token for a new host: run `ardesia agent --join TOKEN --data-dir DIR` there (PostgreSQL store only)")
    .argument('<name>', 'the new host\'s name')
    .addOption(flag('--valid <duration>', 'how long the token works (like 15m, 2h)', duration({ bareUnit: 's', minMs: 10_000, maxMs: 7 * 24 * 3600_000 }), '15m'))
    .action(async (name: string, flags: { valid: number }, cmd: Command) => {
      const r = await client(cmd).request<{ host: string; token: string; expiresAt: string; controller: string; fingerprint: string }>('POST', `/v1/hosts/${enc(name)}/join-token`, { validSeconds: Math.round(flags.valid / 1000) });
      output(wantsJson(cmd), wantsJson(cmd) ? r : [
        `join token for host ${r.host} (works once, until ${r.expiresAt}):`,
        r.token,
        `on ${r.host}: ardesia agent --controller ${r.controller} --join TOKEN --data-dir /var/lib/ardesia-agent`,
        `  (add --storage local if ${r.host} does not mount the shared data folder)`,
        `(the agent pins the controller's certificate ${r.fingerprint})`,
      ].join('\n'));
    });
  host
    .command('list')
    .description('list hosts: state, memory and vCPUs promised of their capacity, desktops in session, spares, VMs')
    .action(async (_f: unknown, cmd: Command) => {
      const hosts = await client(cmd).request<HostView[]>('GET', '/v1/hosts');
      output(wantsJson(cmd), wantsJson(cmd) ? hosts : hostRows(hosts));
    });
  host
    .command('show')
    .description('show a host and what is left on it (desktops, VMs)')
    .argument('<name>')
    .action(async (name: string, _f: unknown, cmd: Command) => {
      const h = await client(cmd).request<HostDetail>('GET', `/v1/hosts/${enc(name)}`);
      output(wantsJson(cmd), wantsJson(cmd) ? h : hostText(h));
    });
  for (const [verb, desc] of [
    ['drain', 'no new desktops, spares or VMs on the host; its spares stop now; sessions there end at their logoff'],
    ['undrain', 'end a drain or maintenance: the host takes new desktops, spares and VMs again'],
  ] as const) {
    host
      .command(verb)
      .description(desc)
      .argument('<name>')
      .action(async (name: string, _f: unknown, cmd: Command) => {
        const h = await client(cmd).request<HostDetail>('POST', `/v1/hosts/${enc(name)}/${verb}`);
        output(wantsJson(cmd), wantsJson(cmd) ? h : hostText(h));
      });
  }
  host
    .command('evict')
    .description('drain the host and stop every VM there (the power button, by force after the grace); an agent cut off gets the order when it reconnects')
    .argument('<name>')
    .option('--grace <seconds>', `how long each guest has to power off before it is stopped by force (default ${EVICT_GRACE_DEFAULT_S})`, nonNegativeInt(3600))
    .action(async (name: string, flags: { grace?: number }, cmd: Command) => {
      const r = await client(cmd).request<HostEviction>('POST', `/v1/hosts/${enc(name)}/evict`, flags.grace === undefined ? {} : { graceSeconds: flags.grace });
      if (wantsJson(cmd)) return output(true, r);
      console.log(`ardesia: host ${r.host} drained; ${r.vms.length} VM(s):`);
      for (const v of r.vms) console.log(terminalSafeLine(`  ${v.name}: ${v.outcome}${v.detail ? ` (${v.detail})` : ''}`));
    });
  host
    .command('label')
    .description("set a host's labels, which pools may require or avoid (replaces them all; refused while its serve --host-label sets them)")
    .argument('<name>')
    .argument('[labels...]', 'labels like ssd or rack=a (spaces or commas between them)')
    .option('--none', 'remove every label')
    .action(async (name: string, given: string[], flags: { none?: boolean }, cmd: Command) => {
      const labels = given.flatMap((l) => l.split(',')).filter((l) => l !== '');
      if (labels.length === 0 && flags.none !== true) cmd.error('error: name the labels (like `ardesia host label b2 ssd rack=a`), or give --none to remove them all');
      if (labels.length > 0 && flags.none === true) cmd.error('error: give labels or --none, not both');
      const h = await client(cmd).request<HostDetail>('PUT', `/v1/hosts/${enc(name)}/labels`, { labels });
      output(wantsJson(cmd), wantsJson(cmd) ? h : hostText(h));
    });
  host
    .command('ksm')
    .description("KSM (kernel same-page merging) on the daemon's own host: show it, or turn it on, off (merged pages stay until written) or unmerge (copies every merged page back; refused without the room)")
    .addArgument(new Argument('[mode]', KSM_MODES.join(', ')).argParser(oneOf(KSM_MODES)))
    .option('--host <name>', "the host (default: the daemon's own host, the only one whose KSM it can reach)")
    .action(async (mode: KsmMode | undefined, flags: { host?: string }, cmd: Command) => {
      const api = client(cmd);
      const name = flags.host ?? (await controllerHost(api));
      const path = `/v1/hosts/${enc(name)}/ksm`;
      const r = mode === undefined ? await api.request<KsmReport>('GET', path) : await api.request<KsmReport>('PUT', path, { mode });
      output(wantsJson(cmd), wantsJson(cmd) ? r : `host ${name}: ${ksmText(r)}`);
    });
  host
    .command('remove')
    .description("forget a host (refused while anything runs there, and for the controller's own host)")
    .argument('<name>')
    .action(async (name: string, _f: unknown, cmd: Command) => {
      const r = await client(cmd).request<{ removed: string }>('DELETE', `/v1/hosts/${enc(name)}`);
      output(wantsJson(cmd), wantsJson(cmd) ? r : `host ${r.removed} removed`);
    });
}

async function controllerHost(api: ApiClient): Promise<string> {
  const hosts = await api.request<HostView[]>('GET', '/v1/hosts');
  const own = hosts.find((h) => h.controller);
  if (!own) throw new Error('the daemon reports no host of its own; name one with --host');
  return own.name;
}

const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);

/** One line: KSM's mode, what it saves, and its scan settings. */
export function ksmText(k: KsmReport | null): string {
  if (k === null) return 'KSM not reported (only the controller reads its own host)';
  if (!k.available) return 'KSM unavailable (the kernel has no /sys/kernel/mm/ksm)';
  const scan = k.pagesToScan !== null && k.sleepMillisecs !== null ? `, scanning ${k.pagesToScan} pages every ${k.sleepMillisecs} ms` : '';
  return `KSM ${k.mode ?? 'unknown'}: ${mib(k.savedBytes)} MiB saved (${k.pagesSharing} pages sharing ${k.pagesShared}), ${k.fullScans} full scans${scan}`;
}

const limitMiB = (h: HostView) => Math.floor(h.capacity.memoryMiB * h.capacity.memoryOvercommit);
const limitVcpus = (h: HostView) => Math.floor(h.capacity.vcpus * h.capacity.cpuOvercommit);

/** An agent's link as a word: ready (heartbeating: takes VMs), linked but not ready (joining), or `unlinked`. */
function agentLinkText(agent: NonNullable<HostView['agent']>, unlinked: string): string {
  return agent.linked ? (agent.ready ? 'linked' : 'linked, not ready') : unlinked;
}

function hostRows(hosts: HostView[]): string {
  return table(
    ['HOST', 'STATE', 'MEMORY MiB', 'VCPUS', 'IN SESSION', 'SPARES', 'VMS', 'KSM SAVED MiB', 'AGENT', 'STORAGE', 'HEARTBEAT', 'LABELS'],
    hosts.map((h) => [
      `${h.name}${h.controller ? ' *' : ''}`,
      h.state,
      `${h.used.memoryMiB}/${limitMiB(h)}`,
      `${h.used.vcpus}/${limitVcpus(h)}`,
      String(h.used.desktopsInSession),
      String(h.used.spares),
      String(h.used.runningVms),
      h.ksm === null || !h.ksm.available ? '-' : h.ksm.enabled || h.ksm.savedBytes > 0 ? mib(h.ksm.savedBytes) : 'off',
      `${h.controller ? 'embedded' : h.agent === null ? 'no hello yet' : `${agentLinkText(h.agent, 'unlinked')} ${h.agent.accel}`}${h.qemuMismatch ? ', QEMU differs' : ''}`,
      h.storage,
      h.heartbeatAt,
      h.labels.join(',') || '-',
    ]),
  );
}

function hostText(h: HostDetail): string {
  const c = h.capacity;
  const left = h.desktops.length + h.vms.length;
  return [
    `host ${h.name}: ${h.state}${h.controller ? ' (the controller\'s own host)' : ''}; heartbeat ${h.heartbeatAt}`,
    ...(h.stateReason ? [`  why      ${h.stateReason}`] : []),
    `  capacity ${c.memoryMiB} MiB × ${c.memoryOvercommit} overcommit, ${c.vcpus} CPUs × ${c.cpuOvercommit}; labels ${h.labels.join(', ') || '-'}${h.labelsFrom === 'serve' ? ' (from its serve --host-label)' : ''}`,
    `  promised ${h.used.memoryMiB} MiB, ${h.used.vcpus} vCPUs to ${h.used.runningVms} VM(s): ${h.used.desktopsInSession} desktop(s) in session, ${h.used.spares} spare(s)`,
    `  memory   ${ksmText(h.ksm)}`,
    `  storage  ${h.storage === 'local' ? 'its own (agent --storage local): image files copied here as its desktops need them; pools with scratch homes, non-persistent, only' : 'the shared data folder'}`,
    ...(h.controller && h.qemu ? [`  QEMU     ${h.qemu.version ?? 'missing'}, ${h.qemu.accel}`] : []),
    ...(h.agent ? [`  agent    ${h.agent.version}, ${agentLinkText(h.agent, 'not linked')}; QEMU ${h.agent.qemuVersion ?? 'missing'}, ${h.agent.accel} (KVM probe: ${h.agent.kvmProbe.ok ? 'ran' : h.agent.kvmProbe.detail})${h.agent.load ? `; load ${h.agent.load.loadAverage1m.toFixed(2)}, ${h.agent.load.memoryFreeMiB} MiB free` : ''}`] : []),
    ...(h.qemuMismatch ? [`  QEMU     differs from the controller's host: it ${h.qemuMismatch}`] : []),
    left === 0 ? '  left     nothing runs here' : `  left     ${left}:`,
    ...h.desktops.map((d) => `    desktop ${d.name} (pool ${d.pool}, ${d.state}${d.user ? `, ${d.user}` : ''})`),
    ...h.vms.map((v) => `    vm ${v}`),
    ...(h.savedStates.length > 0 ? [`  states   ${h.savedStates.map((v) => `vm ${v}`).join(', ')}: stopped, saved here (\`vm start\` resumes each on this host)`] : []),
  ].join('\n');
}

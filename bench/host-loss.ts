// Host power loss with desktops in session (part of `failover`): a real controller (PostgreSQL, home leases) and a real
// agent, each in a network namespace with a sanlock daemon of its own (no watchdog), the busybox guest with the guest
// helper. USERS users are in session on the agent's host a1 while the controller's host keeps warm spares; then a1
// loses power (its agent frozen without a FIN, its sanlock daemon and QEMUs killed). Each user does what the portal
// does on the 4904 close: as soon as their session is recorded lost, they open the pool again. The clock runs from the
// power loss to the last user's new desktop in session, split at the moment a1 is judged down (its storage lease
// expired: 8 × io timeout + 60 s, the anchor).
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ApiClient } from '../src/cli/client.js';
import type { HostView } from '../src/contract/hosts.js';
import type { DesktopView } from '../src/contract/pools.js';
import type { AuditEntry } from '../src/contract/users.js';
import { hostDeadSeconds } from '../src/cluster/home-leases/layout.js';
import { AgentProc } from '../test/helpers/agent-proc.js';
import { killRuntimeQemus, runCli, TestDaemon, until } from '../test/helpers/daemon.js';
import { freshDatabaseForNamespaces } from '../test/helpers/postgres.js';
import { diskFolder, SanlockDaemon } from '../test/helpers/sanlock.js';
import { NetLab } from '../test/netboot/lab.js';
import { helperImage, untilDesktops, userClient } from '../test/pools/support.js';

const NET = '10.251.11';
const IO_TIMEOUT_S = 2;
const POOL = 'loss';
const SLOW_MS = 15 * 60_000;

export interface HostLossFigures {
  users: number;
  /** Power loss → a1 judged down and its desktops recorded lost (the first desktop.lost). */
  lostMs: number;
  /** Power loss → each user's new desktop in session, in order. */
  reservedMs: number[];
  /** What sanlock promises before another host may take the leases. */
  leaseExpiryS: number;
}

export async function hostLossRun(users: number, log: (m: string) => void): Promise<HostLossFigures> {
  const lab = await NetLab.create('hl');
  const root = diskFolder();
  chmodSync(root, 0o711);
  const dirs: string[] = [root];
  let controller: TestDaemon | undefined;
  let agent: AgentProc | undefined;
  let agentDir: string | undefined;
  const locks = [new SanlockDaemon('ctl', root), new SanlockDaemon('a1', root)] as const;
  try {
    const ctlNs = await lab.addHost('ctl', `${NET}.1/24`);
    const a1Ns = await lab.addHost('a1', `${NET}.2/24`);
    await Promise.all(locks.map((l) => l.start()));
    const db = await freshDatabaseForNamespaces();
    const dataDir = join(root, 'data');
    mkdirSync(dataDir);
    controller = new TestDaemon(dataDir, ['--listen', `${NET}.1:8443`, '--host-name', 'ctl', '--database', db.viaSocket, '--home-leases', 'sanlock', '--lease-io-timeout', String(IO_TIMEOUT_S)], ctlNs);
    await controller.spawn(locks[0].env);
    const cli = async <T>(args: string[]): Promise<T> => {
      const r = await runCli(controller!.dataDir, ['--json', ...args]);
      if (r.code !== 0) throw new Error(`ardesia ${args.join(' ')}: ${r.stderr}`);
      return JSON.parse(r.stdout) as T;
    };
    await helperImage(controller, 'bb');
    const clients: ApiClient[] = [];
    for (let i = 1; i <= users; i++) clients.push(await userClient(controller, `u${i}`));
    const { token } = await cli<{ token: string }>(['host', 'add', 'a1']);
    agentDir = mkdtempSync(join(tmpdir(), 'ard-hl-'));
    dirs.push(agentDir);
    agent = new AgentProc(a1Ns, agentDir, ['--controller', `https://${NET}.1:8443`, '--join', token], locks[1].env);
    await until('a1 linked', async () => (await cli<HostView[]>(['host', 'list'])).find((h) => h.name === 'a1' && h.agent?.linked === true), 120_000, 500);
    // Every user's session on a1: the controller's host takes nothing until they are in.
    await cli(['host', 'drain', 'ctl']);
    const api = controller.api();
    await api.request('POST', '/v1/pools', {
      name: POOL, image: 'bb', startMode: 'boot', warmSpares: users, maxDesktops: 2 * users, memoryMiB: 160, homeSizeBytes: 64 * 2 ** 20,
      entitled: { users: clients.map((_, i) => `u${i + 1}`) },
    });
    await untilDesktops(controller, POOL, `${users} spares on a1`, (ds) => ds.filter((d) => d.state === 'ready' && d.host === 'a1').length >= users, SLOW_MS);
    // No refill on a1 while they connect; then the controller's host warms spares for whoever needs one.
    await api.request('PATCH', `/v1/pools/${POOL}`, { warmSpares: 0 });
    const sessions = await Promise.all(clients.map((c) => c.request<{ desktop: DesktopView }>('POST', `/v1/pools/${POOL}/connect`, {})));
    if (sessions.some((s) => s.desktop.host !== 'a1')) throw new Error('a session did not start on a1');
    await cli(['host', 'undrain', 'ctl']);
    await api.request('PATCH', `/v1/pools/${POOL}`, { warmSpares: users });
    await untilDesktops(controller, POOL, `${users} spares on ctl`, (ds) => ds.filter((d) => d.state === 'ready' && d.host === 'ctl').length >= users, SLOW_MS);
    log(`host-loss: ${users} sessions on a1, ${users} warm spares on ctl; a1 loses power`);

    const t0 = performance.now();
    agent.proc.kill('SIGSTOP');
    locks[1].kill();
    killRuntimeQemus(agentDir);
    const lostAt = new Map<string, number>();
    let firstLost = 0;
    const reservedMs = await Promise.all(
      sessions.map(async ({ desktop }, i) => {
        // The portal's part: told at the 4904 close (here: the audit's desktop.lost), it opens the pool again.
        await until(`desktop ${desktop.name} lost`, async () => {
          if (lostAt.has(desktop.name)) return true;
          const entries = await api.request<AuditEntry[]>('GET', '/v1/audit?action=desktop.lost&limit=1000');
          for (const e of entries) if (e.target && !lostAt.has(e.target)) lostAt.set(e.target, performance.now() - t0);
          if (firstLost === 0 && lostAt.size > 0) firstLost = Math.min(...lostAt.values());
          return lostAt.has(desktop.name) || undefined;
        }, SLOW_MS, 250);
        const again = await clients[i]!.request<{ desktop: DesktopView }>('POST', `/v1/pools/${POOL}/connect`, {});
        if (again.desktop.host !== 'ctl') throw new Error(`u${i + 1} was served on ${again.desktop.host}`);
        return performance.now() - t0;
      }),
    );
    await agent.kill();
    return { users, lostMs: firstLost, reservedMs: reservedMs.sort((a, b) => a - b), leaseExpiryS: hostDeadSeconds(IO_TIMEOUT_S) };
  } finally {
    await agent?.kill();
    if (agentDir) killRuntimeQemus(agentDir);
    await controller?.destroy().catch(() => undefined);
    for (const l of locks) l.kill();
    await lab.destroy();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}

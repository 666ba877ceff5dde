// A real Active Directory for the tests: a Samba AD DC from Debian's packages, provisioned into a folder and run in its
// own network namespace (Samba binds the standard ports), joined to this host by a veth pair whose two addresses
// exist only on that pair; no default route, so nothing leaves. The provisioned folder, users and groups included,
// is cached under .cache as a tar with xattrs keyed by the samba package version, and restored at the same path.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, until } from '../helpers/daemon.js';
import { testCaMake } from './slapd.js';

export const REALM = 'COUNCIL.TEST';
export const DOMAIN = 'COUNCIL';
export const BASE_DN = 'DC=council,DC=test';
export const DC_NAME = 'DC1.council.test';
const NETNS = 'ard-samba-dc';
const HOST_IF = 'ard-dch0';
const DC_IF = 'ard-dc0';
export const DC_ADDR = '10.213.77.1';
const HOST_ADDR = '10.213.77.2';
const ADMIN_PASSWORD = 'Admin-Pass-1234';
export const READER = { dn: `CN=reader,CN=Users,${BASE_DN}`, password: 'Reader-Pass-1234' };

/** Users and groups made at provisioning (kept in the cache): [name, password, extra samba-tool user add flags]. */
export const AD_USERS: Array<[string, string, string[]]> = [
  ['reader', READER.password, []],
  ['jdoe', 'Jdoe-Pass-1234', ['--given-name=John', '--surname=Doe']],
  ['itadmin', 'Itadmin-Pass-1234', ['--given-name=Ivy', '--surname=Admin']],
  ['dis', 'Dis-Pass-1234', []],
  ['chg', 'Chg-Pass-1234', ['--must-change-at-next-login']],
  ['clash', 'Clash-Pass-1234', []],
];
/** [group, members (users or groups)]: Office holds Staff, Ardesia Admins holds IT Admins (nesting). */
const AD_GROUPS: Array<[string, string[]]> = [
  ['Staff', ['jdoe']],
  ['Office', ['Staff']],
  ['IT Admins', ['itadmin']],
  ['Ardesia Admins', ['IT Admins']],
];

const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: 'pipe' }).toString();
const quiet = (cmd: string, args: string[]) => {
  try {
    run(cmd, args);
  } catch {
    /* absent already */
  }
};

export interface SambaDc {
  dir: string;
  conf: string;
  ca: string;
  url: string;
  /** Restored from the cache (true) or provisioned now. */
  fromCache: boolean;
  provisionMs: number;
  readyMs: number;
  tool(args: string[]): string;
  stop(): Promise<void>;
}

function netnsDown(): void {
  if (existsSync(`/run/netns/${NETNS}`)) {
    for (const pid of run('ip', ['netns', 'pids', NETNS]).split('\n').filter(Boolean)) quiet('kill', ['-KILL', pid]);
    quiet('ip', ['netns', 'del', NETNS]);
  }
  quiet('ip', ['link', 'del', HOST_IF]);
}

function netnsUp(): void {
  netnsDown();
  run('ip', ['netns', 'add', NETNS]);
  run('ip', ['link', 'add', HOST_IF, 'type', 'veth', 'peer', 'name', DC_IF, 'netns', NETNS]);
  run('ip', ['addr', 'add', `${HOST_ADDR}/30`, 'dev', HOST_IF]);
  run('ip', ['link', 'set', HOST_IF, 'up']);
  run('ip', ['-n', NETNS, 'addr', 'add', `${DC_ADDR}/30`, 'dev', DC_IF]);
  run('ip', ['-n', NETNS, 'link', 'set', DC_IF, 'up']);
  run('ip', ['-n', NETNS, 'link', 'set', 'lo', 'up']);
}

function provision(dir: string): void {
  const dc = join(dir, 'dc');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'empty.conf'), '');
  const paths = {
    'pid directory': `${dc}/run`, 'log file': `${dc}/log/%m.log`, 'ncalrpc dir': `${dc}/run/ncalrpc`,
    'winbindd socket directory': `${dc}/run/winbindd`, 'ntp signd socket directory': `${dc}/run/ntp_signd`,
    'usershare path': `${dc}/usershares`, 'smb passwd file': `${dc}/private/smbpasswd`,
    interfaces: `lo ${DC_IF}`, 'bind interfaces only': 'yes', 'dns forwarder': '', 'printcap name': '/dev/null', 'disable spoolss': 'yes',
  };
  run('ip', ['netns', 'exec', NETNS, 'samba-tool', 'domain', 'provision', '-s', join(dir, 'empty.conf'), `--realm=${REALM}`, `--domain=${DOMAIN}`,
    '--server-role=dc', '--dns-backend=SAMBA_INTERNAL', '--use-rfc2307', `--adminpass=${ADMIN_PASSWORD}`, '--host-name=dc1', `--host-ip=${DC_ADDR}`,
    `--targetdir=${dc}`, ...Object.entries(paths).map(([k, v]) => `--option=${k}=${v}`)]);
  mkdirSync(join(dc, 'log'), { recursive: true });
  mkdirSync(join(dc, 'run'), { recursive: true });
  const conf = join(dc, 'etc', 'smb.conf');
  // Samba's own first-start certificate (RSA, made at start) costs seconds each run: an EC one made here is cached with the folder.
  const tlsDir = join(dir, 'tls');
  mkdirSync(tlsDir, { recursive: true });
  const tls = testCaMake(tlsDir, DC_NAME, DC_ADDR);
  chmodSync(tls.key, 0o600);
  const text = readFileSync(conf, 'utf8').replace('[global]\n', `[global]\n\ttls enabled = yes\n\ttls keyfile = ${tls.key}\n\ttls certfile = ${tls.cert}\n\ttls cafile = ${tls.ca}\n`);
  if (text === readFileSync(conf, 'utf8')) throw new Error(`no [global] section in ${conf}`);
  writeFileSync(conf, text);
  for (const [name, password, extra] of AD_USERS) run('samba-tool', ['user', 'add', name, password, ...extra, '-s', conf]);
  run('samba-tool', ['user', 'disable', 'dis', '-s', conf]);
  for (const [group, members] of AD_GROUPS) {
    run('samba-tool', ['group', 'add', group, '-s', conf]);
    run('samba-tool', ['group', 'addmembers', group, members.join(','), '-s', conf]);
  }
}

/** Provisions (or restores from .cache) and starts the DC; LDAP and LDAPS on DC_ADDR, reachable from this host only. */
export async function sambaDcStart(): Promise<SambaDc> {
  const version = run('dpkg-query', ['-W', '-f=${Version}', 'samba']).trim();
  const recipe = createHash('sha256').update(JSON.stringify([version, AD_USERS, AD_GROUPS, DC_ADDR, REALM, 2])).digest('hex').slice(0, 16);
  // Samba writes absolute paths into its smb.conf: the folder is always restored at this same path.
  const parent = '/tmp/ardesia-samba-dc';
  const dir = join(parent, recipe);
  const cacheDir = join(REPO_ROOT, '.cache', 'samba-dc');
  const tarball = join(cacheDir, `${version.replace(/[^A-Za-z0-9.+-]/g, '_')}-${recipe}.tar`);
  netnsUp();
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(parent, { recursive: true });
  const t0 = Date.now();
  const fromCache = existsSync(tarball);
  if (fromCache) {
    run('tar', ['--xattrs', '--xattrs-include=*', '-xf', tarball, '-C', parent]);
  } else {
    provision(dir);
    mkdirSync(cacheDir, { recursive: true });
    run('tar', ['--sparse', '--xattrs', '--xattrs-include=*', '-cf', `${tarball}.part`, '-C', parent, recipe]);
    renameSync(`${tarball}.part`, tarball);
  }
  const provisionMs = Date.now() - t0;
  const conf = join(dir, 'dc', 'etc', 'smb.conf');
  const t1 = Date.now();
  // Only LDAP (and the DNS it needs): 13 processes instead of 56; no dnsupdate through the host's resolver.
  const proc: ChildProcess = spawn('ip', ['netns', 'exec', NETNS, 'samba', '-s', conf, '--option=server services=ldap dns', '-F'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  await until(`Samba LDAPS on ${DC_ADDR}:636`, () => {
    if (proc.exitCode !== null) throw new Error(`samba exited: ${out}`);
    try {
      run('ip', ['netns', 'exec', NETNS, 'bash', '-c', `exec 3<>/dev/tcp/${DC_ADDR}/636`]);
      return true;
    } catch {
      return false;
    }
  }, 60_000, 100);
  const readyMs = Date.now() - t1;
  return {
    dir,
    conf,
    ca: join(dir, 'tls', 'ca.pem'),
    url: `ldaps://${DC_ADDR}`,
    fromCache,
    provisionMs,
    readyMs,
    tool: (args) => run('samba-tool', [...args, '-s', conf]),
    stop: async () => {
      proc.kill('SIGTERM');
      await until('samba to stop', () => proc.exitCode !== null || proc.signalCode !== null, 10_000, 100).catch(() => undefined);
      netnsDown();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

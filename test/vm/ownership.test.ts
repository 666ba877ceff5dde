// vm.conf `owner`: a non-root Unix user operates the VMs they own and nothing else. The user is the
// system's real `nobody` account; the CLI runs as that uid and finds its own token file.
import assert from 'node:assert/strict';
import { mkdtempSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { lookupAccount } from '../../src/auth/unix-accounts.js';
import type { VmStatus } from '../../src/contract/vm.js';
import { TestDaemon, until } from '../helpers/daemon.js';
import { guestArtifacts } from '../helpers/guests.js';

const g = guestArtifacts();
const nobody = lookupAccount('nobody');
let daemon: TestDaemon;
let url: string;

before(async () => {
  // The guest kernel lies outside nobody's own folder: the owner policy lets their VMs read it (docs/security/20-owners.md).
  const dataDir = mkdtempSync(join(tmpdir(), 'ard-'));
  const guestDir = dirname(g.amd64.kernel);
  const policy = join(dataDir, 'owners.json');
  writeFileSync(policy, JSON.stringify({ users: { nobody: { readOnlyRoots: [guestDir, realpathSync(guestDir)] } } }));
  daemon = await TestDaemon.start({ dataDir, extraArgs: ['--listen', '127.0.0.1:0', '--owner-policy', policy] });
  url = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(daemon.output)![1]!;
  const conf = join(daemon.dataDir, 'owned.conf');
  const vm = (name: string, owner: string) =>
    `vm "${name}" {\n memory 96M\n boot "${g.amd64.kernel}"\n initrd "${g.amd64.initrd}"\n cmdline "console=ttyS0 quiet"\n owner ${owner}\n disable\n}\n`;
  writeFileSync(conf, vm('mine', 'nobody') + vm('theirs', 'root') + vm('grouped', ':nogroup'));
  const r = await daemon.cli(['vm', 'load', conf]);
  assert.equal(r.code, 0, r.stderr);
});
after(async () => {
  await daemon?.destroy();
});

function asNobody(args: string[]) {
  return daemon.cli(['--url', url, ...args], { uid: nobody!.uid, gid: nobody!.gid, env: { HOME: '/tmp' } });
}

test('the owner gets a token file only they can read', () => {
  const st = statSync(join(daemon.dataDir, 'tokens', 'nobody.token'));
  assert.equal(st.uid, nobody!.uid);
  assert.equal(st.mode & 0o777, 0o400);
  assert.equal(statSync(join(daemon.dataDir, 'root.token')).mode & 0o777, 0o600);
  assert.equal(statSync(daemon.socket).mode & 0o777, 0o600, 'the unix socket is root-only');
});

test('a non-root owner sees and operates only their VMs (and their group’s)', async () => {
  const list = await asNobody(['--json', 'vm', 'status']);
  assert.equal(list.code, 0, list.stderr);
  assert.deepEqual((JSON.parse(list.stdout) as VmStatus[]).map((v) => v.name), ['grouped', 'mine']);

  const start = await asNobody(['vm', 'start', 'mine']);
  assert.equal(start.code, 0, start.stderr);
  await until('the banner', async () => (await asNobody(['vm', 'log', 'mine'])).stdout.includes(g.amd64.banner));
  const stop = await asNobody(['vm', 'stop', '-f', '-w', 'mine']);
  assert.equal(stop.code, 0, stop.stderr);
});

test('someone else’s VM, root-only actions and ad hoc VMs are refused to a non-root user', async () => {
  for (const args of [
    ['vm', 'start', 'theirs'],
    ['vm', 'status', 'theirs'],
    ['vm', 'load', join(daemon.dataDir, 'owned.conf')],
    ['vm', 'start', 'adhoc', '-m', '64M', '-b', g.amd64.kernel],
  ]) {
    const r = await asNobody(args);
    assert.equal(r.code, 1, args.join(' '));
    assert.match(r.stderr, /not yours|only an administrator/, `${args.join(' ')}: ${r.stderr}`);
  }
  const status = JSON.parse((await daemon.cli(['--json', 'vm', 'status', 'theirs'])).stdout) as VmStatus;
  assert.equal(status.state, 'stopped', 'nothing happened to it');
});

test('without a token: unauthenticated', async () => {
  const r = await daemon.cli(['--url', url, 'vm', 'status'], { env: { ARDESIA_TOKEN: 'not-a-token' } });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /valid API token/);
});

// The unit reader the package test runs ExecStart with (pure): expansion as systemd.service(5) says, capabilities.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { capabilityMask, envFileParse, sandboxScript, setprivBoundingSet, unitCapabilities, unitCommand, unitParse } from './unit-file.js';

const UNIT = `# comment
[Unit]
Description=x

[Service]
Environment=A=one B=two
Environment=LISTEN=127.0.0.1:1 OPTS=
EnvironmentFile=-/etc/x.env
ExecStart=/usr/bin/ardesia serve --listen \${LISTEN} $OPTS --tag=\${A}
CapabilityBoundingSet=CAP_NET_ADMIN CAP_SETUID
`;

test('ExecStart: ${X} is one word, $X splits, an empty $X is no word; the environment file wins', () => {
  const cases: Array<{ file: string | undefined; argv: string[] }> = [
    { file: undefined, argv: ['/usr/bin/ardesia', 'serve', '--listen', '127.0.0.1:1', '--tag=one'] },
    { file: 'LISTEN=127.0.0.1:9\nOPTS=--netboot /etc/n.yaml  --x\n', argv: ['/usr/bin/ardesia', 'serve', '--listen', '127.0.0.1:9', '--netboot', '/etc/n.yaml', '--x', '--tag=one'] },
    { file: '# only a comment\nA="quoted value"\n', argv: ['/usr/bin/ardesia', 'serve', '--listen', '127.0.0.1:1', '--tag=quoted value'] },
  ];
  for (const c of cases) {
    const { argv, env } = unitCommand(unitParse(UNIT), (path) => (path === '/etc/x.env' ? c.file : undefined));
    assert.deepEqual(argv, c.argv, JSON.stringify(c.file));
    assert.equal(env.B, 'two');
  }
});

test('a missing EnvironmentFile without "-" is an error; bad lines are refused', () => {
  const unit = unitParse(UNIT.replace('EnvironmentFile=-', 'EnvironmentFile='));
  assert.throws(() => unitCommand(unit, () => undefined), /EnvironmentFile \/etc\/x.env is missing/);
  assert.throws(() => envFileParse('not an assignment'), /not an environment line/);
  assert.throws(() => unitParse('Key=before any section'), /not a unit line/);
});

test('capabilities: the names, the CapBnd mask and setpriv\'s bounding set', () => {
  const names = unitCapabilities(unitParse(UNIT));
  assert.deepEqual(names, ['CAP_NET_ADMIN', 'CAP_SETUID']);
  assert.equal(capabilityMask(names), '0000000000001080');
  assert.equal(capabilityMask(['CAP_CHOWN', 'CAP_MKNOD']), '0000000008000001');
  assert.equal(setprivBoundingSet(names), '-all,+net_admin,+setuid');
  assert.throws(() => unitCapabilities(unitParse('[Service]\nCapabilityBoundingSet=~CAP_SYS_ADMIN\n')), /listing the capabilities kept/);
  assert.throws(() => unitCapabilities(unitParse('[Service]\nCapabilityBoundingSet=CAP_FLY\n')), /unknown capability CAP_FLY/);
});

test('the file-system confinement: writable paths bound first, the rest read-only, private /tmp, no homes', () => {
  const unit = unitParse('[Service]\nExecStart=/bin/true\nProtectSystem=strict\nReadWritePaths=/var/lib/a\nPrivateTmp=yes\nProtectHome=yes\n');
  const script = sandboxScript(unit).split('\n');
  assert.deepEqual(script.slice(0, 2), ['set -e', "mount --bind '/var/lib/a' '/var/lib/a'"]);
  assert.match(script[2]!, /case "\$m" in "\/dev"\|"\/dev"\/\*\|"\/proc"\|"\/proc"\/\*\|"\/sys"\|"\/sys"\/\*\|"\/var\/lib\/a"\|"\/var\/lib\/a"\/\*\) ;; \*\) mount -o remount,bind,ro "\$m"/);
  assert.ok(script.includes('mount -t tmpfs -o mode=1777 tmpfs /tmp'));
  assert.ok(script.includes('if [ -d /root ]; then mount -t tmpfs -o ro,mode=000 tmpfs /root; fi'));
  assert.equal(script.at(-1), 'exec "$@"');
  assert.throws(() => sandboxScript(unitParse('[Service]\nProtectKernelTunables=yes\n')), /does not emulate ProtectKernelTunables/);
  assert.throws(() => sandboxScript(unitParse('[Service]\nProtectSystem=full\n')), /only strict is emulated/);
});

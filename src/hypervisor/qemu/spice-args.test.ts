// Table tests of the SPICE part of the QEMU command line (rendered text, as argv.test.ts does).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ArdesiaError } from '../../contract/errors.js';
import { VmSpec, type VmSpecInput } from '../../contract/vm.js';
import { buildQemuLaunch, DEBIAN_FIRMWARE, formatArgv, runtimePaths } from './argv.js';
import { spiceArgs } from './spice-args.js';

function spiceLines(input: Omit<VmSpecInput, 'name'>, spicePort?: number, spiceX509Dir?: string): string[] {
  const spec = VmSpec.parse({ name: 'vm1', memoryMiB: 256, ...input });
  const launch = buildQemuLaunch(spec, { paths: runtimePaths('/run/ard/vm1'), accel: 'tcg', firmware: DEBIAN_FIRMWARE, spicePort, spiceX509Dir });
  return formatArgv(launch.args).split('\n').filter((l) => l.startsWith('-spice'));
}

describe('SPICE display arguments', () => {
  const cases: Array<{ what: string; input: Omit<VmSpecInput, 'name'>; port?: number; x509?: string; expected: string[] }> = [
    { what: 'no display section: no SPICE', input: {}, expected: [] },
    { what: 'display without spice: no SPICE', input: { display: {} }, expected: [] },
    { what: 'default: loopback, the picked port, ticketing on', input: { display: { spice: {} } }, port: 5930, expected: ['-spice addr=127.0.0.1,port=5930,disable-ticketing=off,agent-mouse=off'] },
    { what: 'a listen address for thin clients: TLS only', input: { display: { spice: { listen: '192.168.7.1' } } }, port: 6001, x509: '/d/tls/spice', expected: ['-spice addr=192.168.7.1,tls-port=6001,x509-dir=/d/tls/spice,disable-ticketing=off,agent-mouse=off'] },
    { what: 'every address: TLS only', input: { display: { spice: { listen: '0.0.0.0' } } }, port: 6001, x509: '/d/tls/spice', expected: ['-spice addr=0.0.0.0,tls-port=6001,x509-dir=/d/tls/spice,disable-ticketing=off,agent-mouse=off'] },
    { what: 'another loopback address stays plain', input: { display: { spice: { listen: '127.0.0.2' } } }, port: 6001, x509: '/d/tls/spice', expected: ['-spice addr=127.0.0.2,port=6001,disable-ticketing=off,agent-mouse=off'] },
    { what: 'a fixed port wins over the picked one', input: { display: { spice: { port: 5999 } } }, port: 6001, expected: ['-spice addr=127.0.0.1,port=5999,disable-ticketing=off,agent-mouse=off'] },
    { what: 'IPv6 loopback', input: { display: { spice: { listen: '::1' } } }, port: 5930, expected: ['-spice addr=::1,port=5930,disable-ticketing=off,agent-mouse=off'] },
  ];
  for (const c of cases) {
    it(c.what, () => assert.deepEqual(spiceLines(c.input, c.port, c.x509), c.expected));
  }

  it('no password ever appears on the command line (it would be visible in ps)', () => {
    assert.doesNotMatch(spiceArgs('vm1', { listen: '127.0.0.1' }, 5930).join(' '), /password/);
  });

  it('a SPICE display without any port is a programming error, not a silent default', () => {
    assert.throws(() => spiceLines({ display: { spice: {} } }), (e: unknown) => e instanceof ArdesiaError && e.code === 'INTERNAL');
  });

  it('SPICE off loopback without TLS credentials is refused, never plain', () => {
    assert.throws(() => spiceLines({ display: { spice: { listen: '192.168.7.1' } } }, 6001), (e: unknown) => e instanceof ArdesiaError && e.code === 'INTERNAL');
  });

  it('the listen address must be an IP address', () => {
    for (const listen of ['localhost', '127.0.0.1,port=1', '']) {
      assert.equal(VmSpec.safeParse({ name: 'vm1', display: { spice: { listen } } }).success, false, listen);
    }
  });
});

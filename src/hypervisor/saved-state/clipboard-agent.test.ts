import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildQemuLaunch, DEBIAN_FIRMWARE, runtimePaths } from '../qemu/argv.js';
import { VmSpec } from '../../contract/vm.js';
import { hasClipboardAgent, identicalOfRunning, withoutClipboardAgent } from './clipboard-agent.js';

const paths = runtimePaths('/d/runtime/a1');
const launchOf = (spec: object) => buildQemuLaunch(VmSpec.parse({ name: 'a1', memoryMiB: 256, boot: { kernel: '/k/vmlinuz' }, ...spec }), { paths, accel: 'tcg', firmware: DEBIAN_FIRMWARE, bootKind: 'kernel', spicePort: 5930 });

test('the restoring launch is the same argv without QEMU\'s own clipboard agent (chardev and port), nothing else', () => {
  const CASES: Array<[string, object, boolean]> = [
    ['a VNC VM has QEMU\'s agent', {}, true],
    ['a SPICE VM gives the port to SPICE (migratable)', { display: { spice: { listen: '127.0.0.1' } } }, false],
  ];
  for (const [what, spec, agent] of CASES) {
    const args = launchOf(spec).args;
    assert.equal(hasClipboardAgent(args), agent, what);
    const stripped = withoutClipboardAgent(args);
    assert.equal(args.length - stripped.length, agent ? 4 : 0, what);
    assert.ok(!stripped.some((a) => a.startsWith('qemu-vdagent,')), what);
    assert.equal(stripped.some((a) => a.startsWith('virtserialport,id=vdagent0-port,')), !agent, `${what}: a SPICE VM keeps its port`);
    assert.deepEqual(stripped.filter((a) => !args.includes(a)), [], `${what}: nothing else changes`);
    assert.ok(stripped.includes('virtio-serial-pci,id=vser0'), `${what}: the guest channel's bus stays`);
  }
});

test("the argv a running QEMU is identical to: its own, or, launched to receive a state, the one it was launched from", () => {
  const vnc = launchOf({}).args;
  const spice = launchOf({ display: { spice: { listen: '127.0.0.1' } } }).args;
  const incoming = (args: string[]) => [...withoutClipboardAgent(args), '-incoming', 'defer'];
  const CASES: Array<[string, string[], boolean, string[]]> = [
    ['a VNC VM as launched', vnc, false, vnc],
    ['a SPICE VM as launched', spice, true, spice],
    ['a VNC VM restored or arrived by migration, found again by its running argv: the agent back in its place', incoming(vnc), false, vnc],
    ['a SPICE VM restored or arrived, found again', incoming(spice), true, spice],
  ];
  for (const [what, args, isSpice, want] of CASES) {
    const identical = identicalOfRunning(args, isSpice);
    assert.deepEqual(identical, want, what);
    assert.equal(hasClipboardAgent(identical), !isSpice, what);
  }
});

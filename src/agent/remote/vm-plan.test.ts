import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { VmDesired } from '../../contract/agent.js';
import { VmSpec } from '../../contract/vm.js';
import { arrivalsSettled, desiredMerge, type MovesHeld, passScope, specOnAgentHost, templatesWanted, type VmAction, vmActions, type VmOnHost } from './vm-plan.js';

const spec = (name: string) => VmSpec.parse({ name, memoryMiB: 256 });
const want = (name: string, desired: VmDesired['desired'], generation: number, force?: boolean): VmDesired => ({ name, spec: spec(name), desired, generation, ...(force ? { force } : {}) });
const on = (name: string, running: boolean): VmOnHost => ({ name, running });
/** Actions as short text, spec left out: `start a@2`, `kill b@-`. */
const text = (a: VmAction) => `${a.kind} ${a.name}${'generation' in a ? `@${a.generation ?? '-'}` : ''}`;

const ROWS: Array<[string, VmDesired[], boolean, VmOnHost[], Array<[string, number]>, string[]]> = [
  ['running wanted, nothing on the host: start', [want('a', 'running', 1)], true, [], [], ['start a@1']],
  ['running wanted and found running (the agent restarted): adopt, never start twice', [want('a', 'running', 1)], true, [on('a', true)], [], ['adopt a@1']],
  ['running, generation applied: nothing (idempotent)', [want('a', 'running', 1)], true, [on('a', true)], [['a', 1]], []],
  ['stopped by itself after its generation was applied: not restarted', [want('a', 'running', 3)], true, [on('a', false)], [['a', 3]], []],
  ['a new generation restarts a VM that stopped by itself', [want('a', 'running', 4)], true, [on('a', false)], [['a', 3]], ['start a@4']],
  ['stopped wanted, running: the power button', [want('a', 'stopped', 2)], true, [on('a', true)], [['a', 1]], ['stop a@2']],
  ['forced stop wanted, running: kill', [want('a', 'stopped', 2, true)], true, [on('a', true)], [['a', 1]], ['kill a@2']],
  ['stopped wanted, already stopped: adopt the generation', [want('a', 'stopped', 2)], true, [on('a', false)], [['a', 1]], ['adopt a@2']],
  ['stop applied, guest still shutting down: no second power button', [want('a', 'stopped', 2)], true, [on('a', true)], [['a', 2]], []],
  ['not in a full set, running: kill then remove', [], true, [on('x', true)], [['x', 5]], ['kill x@-', 'remove x']],
  ['not in a full set, stopped: remove', [], true, [on('x', false)], [], ['remove x']],
  ['before the first full set nothing is removed', [], false, [on('x', true), on('y', false)], [], []],
  ['absent wanted: kill and remove, whatever the generation', [want('a', 'absent', 7)], false, [on('a', true)], [['a', 7]], ['kill a@7', 'remove a']],
  ['absent wanted, not on the host: nothing', [want('a', 'absent', 7)], true, [], [], []],
  ['kills and removals come before starts', [want('b', 'running', 1)], true, [on('x', true)], [], ['kill x@-', 'remove x', 'start b@1']],
];

for (const [name, desired, complete, onHost, applied, expected] of ROWS) {
  test(`vm plan: ${name}`, () => {
    const actions = vmActions({ desired: new Map(desired.map((d) => [d.name, d])), desiredComplete: complete, onHost, applied: new Map(applied) });
    assert.deepEqual(actions.map(text), expected);
  });
}

test('vm plan: a start carries the desired spec and the image files to check', () => {
  const [a] = vmActions({ desired: new Map([['a', want('a', 'running', 1)]]), desiredComplete: true, onHost: [], applied: new Map() });
  assert.equal(a?.kind === 'start' && a.spec.memoryMiB, 256);
  assert.equal(a?.kind === 'start' && a.images, undefined);
  const images = [{ path: '/srv/ardesia/images/deb/1.qcow2', sha256: 'a'.repeat(64) }];
  const [b] = vmActions({ desired: new Map([['a', { ...want('a', 'running', 1), images }]]), desiredComplete: true, onHost: [], applied: new Map() });
  assert.deepEqual(b?.kind === 'start' && b.images, images);
});

test("vm plan: a clone's start carries its restore template", () => {
  const restoreFrom = { stream: '/srv/t/k/1/state.bin', ramFile: '/srv/t/k/1/ram.bin', manifest: { key: '0123456789abcdef' } };
  const [a] = vmActions({ desired: new Map([['a', { ...want('a', 'running', 1), restoreFrom }]]), desiredComplete: true, onHost: [], applied: new Map() });
  assert.deepEqual(a?.kind === 'start' && a.restoreFrom, restoreFrom);
});

const clone = (name: string, desired: VmDesired['desired'], build: string): VmDesired => ({ ...want(name, desired, 1), restoreFrom: { stream: `/t/k/${build}/state.bin`, ramFile: `/t/k/${build}/ram.bin`, manifest: { key: 'k' } } });
const WANTED: Array<[string, VmDesired[], string[]]> = [
  ['no clones: none', [want('a', 'running', 1)], []],
  ['two clones of one build: its RAM once', [clone('a', 'running', '1'), clone('b', 'running', '1')], ['/t/k/1/ram.bin']],
  ['a rebuilt template (same key, new build): both builds while clones of each are wanted', [clone('a', 'running', '1'), clone('b', 'running', '2')], ['/t/k/1/ram.bin', '/t/k/2/ram.bin']],
  ['a clone wanted stopped or absent holds nothing', [clone('a', 'stopped', '1'), clone('b', 'absent', '2'), clone('c', 'running', '3')], ['/t/k/3/ram.bin']],
];
for (const [name, desired, keys] of WANTED) {
  test(`templates wanted: ${name}`, () => assert.deepEqual([...templatesWanted(desired)].sort(), keys));
}

test("the spec on an agent's host: SPICE on its loopback on a port picked at start; nothing else changes", () => {
  const base = want('a', 'running', 1).spec;
  assert.equal(specOnAgentHost(base), base, 'no SPICE: the same spec');
  const open = { ...base, display: { spice: { listen: '0.0.0.0', port: 5930 } } };
  assert.deepEqual(specOnAgentHost(open), { ...base, display: { spice: { listen: '127.0.0.1' } } });
  assert.deepEqual(open.display.spice, { listen: '0.0.0.0', port: 5930 }, "the controller's spec is not changed");
});

test('desired merge: a full set replaces, a change merges, a late older generation is ignored', () => {
  const held = new Map([['a', want('a', 'running', 3)], ['b', want('b', 'running', 1)]]);
  assert.deepEqual([...desiredMerge(held, [want('c', 'stopped', 1)], true).keys()], ['c'], 'a VM missing from a full set is dropped');
  const merged = desiredMerge(held, [want('a', 'stopped', 2), want('b', 'stopped', 2)], false);
  assert.equal(merged.get('a')?.desired, 'running');
  assert.equal(merged.get('b')?.desired, 'stopped');
  assert.equal(desiredMerge(held, [want('a', 'stopped', 1)], true).get('a')?.desired, 'running', 'a full set read before a newer change keeps the change');
  assert.equal(desiredMerge(held, [want('a', 'stopped', 4)], true).get('a')?.desired, 'stopped');
});

// Moves held by the agent, then the pass over a full set: which VMs the pass may touch, and what it does to them.
const held = (h: Partial<{ arriving: string[]; departed: Array<[string, number]>; arrivals: Array<[string, number]> }>): MovesHeld => ({
  arriving: new Set(h.arriving ?? []),
  departed: new Map(h.departed ?? []),
  arrivals: new Map(h.arrivals ?? []),
});
const SCOPE_ROWS: Array<[string, VmDesired[], VmOnHost[], MovesHeld, string[]]> = [
  ['arriving under way: neither started nor quit', [], [on('a', true)], held({ arriving: ['a'] }), []],
  ['departed, still named below the move: waits paused', [want('a', 'running', 3)], [on('a', true)], held({ departed: [['a', 4]] }), []],
  ['departed, the move recorded (absent at its generation): quit', [want('a', 'absent', 4)], [on('a', true)], held({ departed: [['a', 4]] }), ['kill a@4', 'remove a']],
  ['departed, no longer named at all (recorded while this host was away): quit', [], [on('a', true)], held({ departed: [['a', 4]] }), ['kill a@-', 'remove a']],
  ['arrived, not named (the controller never recorded the move): kept', [want('b', 'running', 1)], [on('a', true), on('b', true)], held({ arrivals: [['a', 5]] }), ['adopt b@1']],
  ['arrived, the move recorded: adopted', [want('a', 'running', 5)], [on('a', true)], held({ arrivals: [['a', 5]] }), []],
  ['arrived, ordered absent: quit', [want('a', 'absent', 5)], [on('a', true)], held({ arrivals: [['a', 5]] }), ['kill a@5', 'remove a']],
  ['nothing held: a stranger is quit', [], [on('a', true)], held({}), ['kill a@-', 'remove a']],
];
for (const [name, desired, onHost, moves, expected] of SCOPE_ROWS) {
  test(`pass scope: ${name}`, () => {
    const scoped = passScope(new Map(desired.map((d) => [d.name, d])), onHost, moves);
    const applied = new Map([['a', 5]]);
    assert.deepEqual(vmActions({ ...scoped, desiredComplete: true, applied }).map(text), expected);
  });
}

test('arrivals settle once the controller names them at the move or later, never below it or by leaving them out', () => {
  const arrivals = new Map([['a', 5], ['b', 5], ['c', 5], ['d', 5]]);
  const desired = new Map([want('a', 'running', 5), want('b', 'absent', 6), want('c', 'running', 4)].map((d) => [d.name, d]));
  assert.deepEqual(arrivalsSettled(arrivals, desired), ['a', 'b']);
});

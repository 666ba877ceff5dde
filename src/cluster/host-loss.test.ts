import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cutMoveOutcome, type HostLossAction, hostLossActions, lostReason, type VmOnLostHost } from './host-loss.js';

const down = new Map([['b1', 'no heartbeat for 90 s and its storage lease has expired']]);
const vm = (name: string, host: string | null, restartOnHostLoss: boolean, desired: VmOnLostHost['desired'] = 'running'): VmOnLostHost => ({ name, host, desired, restartOnHostLoss });
const kinds = (actions: HostLossAction[]) => actions.map((a) => `${a.kind} ${a.name}`);

const cases: Array<[string, VmOnLostHost[], string[]]> = [
  ['a running VM with restart-on-host-loss on a down host is restarted elsewhere', [vm('web', 'b1', true)], ['restart web']],
  ['one without the option is lost and waits for the administrator', [vm('db', 'b1', false)], ['lost db']],
  ['a stopped VM on a down host is left alone (nothing to restart, nothing lost)', [vm('old', 'b1', true, 'stopped')], []],
  ['VMs on hosts that are not down (up or suspect: absent from the map) never move', [vm('web', 'b2', true), vm('db', 'ctl', false)], []],
  ['a VM with no host recorded yet is not on a lost host', [vm('new', null, true)], []],
  ['each VM of the down host, in order', [vm('a', 'b1', false), vm('b', 'b2', true), vm('c', 'b1', true)], ['lost a', 'restart c']],
];

for (const [name, vms, want] of cases) {
  test(name, () => assert.deepEqual(kinds(hostLossActions(vms, down)), want));
}

test('no down host: no action whatever the VMs', () => {
  assert.deepEqual(hostLossActions([vm('web', 'b1', true), vm('db', 'b1', false)], new Map()), []);
});

test('the reason names the host and why it is down; a lost VM\'s says what to do', () => {
  const [a] = hostLossActions([vm('db', 'b1', false)], down);
  assert.equal(a!.reason, 'host b1 is down (no heartbeat for 90 s and its storage lease has expired)');
  assert.equal(a!.from, 'b1');
  assert.match(lostReason(a!), /^lost: host b1 is down .*restart-on-host-loss yes.*`ardesia vm start db`/);
  assert.match(lostReason(a!, 'no host up'), /^lost: host b1 is down .*restarting it on another host failed: no host up$/);
});

test('a move cut short by the controller, its destination down: the source runs on only when the destination cannot have run the VM', () => {
  const cases: Array<[string, 'runs' | 'left' | 'gone', Array<string | undefined>, ReturnType<typeof cutMoveOutcome>]> = [
    ['the state never left (no leases)', 'runs', [], 'runs-at-source'],
    ['the state never left (its lease still held at the source)', 'runs', ['a1'], 'runs-at-source'],
    ['the state left, the lease given back and not taken since', 'left', ['a1'], 'resume-at-source'],
    ['the state left, one of two leases taken by the destination before it died', 'left', ['a2', 'a1'], 'resume-at-source'],
    ['the state left, the lease taken by the destination', 'left', ['a2'], 'lost-with-destination'],
    ['the state left, every lease taken by the destination', 'left', ['a2', 'a2'], 'lost-with-destination'],
    ['the state left, the lease never taken by anyone (a record to doubt)', 'left', [undefined], 'lost-with-destination'],
    ['the state left, no lease to tell by', 'left', [], 'lost-with-destination'],
    ["the source's QEMU gone, its lease still last taken there", 'gone', ['a1'], 'lost-with-destination'],
  ];
  for (const [what, atSource, takenBy, want] of cases) assert.equal(cutMoveOutcome(atSource, 'a1', takenBy), want, what);
});

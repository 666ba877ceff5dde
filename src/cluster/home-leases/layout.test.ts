import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ArdesiaError } from '../../contract/errors.js';
import { acquireError, areaInitialised, daemonError, DELTA_MAGIC, heldElsewhere, homeResource, hostDeadSeconds, leaseFiles, lockspaceText, PAXOS_MAGIC, parseHelperFailure, parseHostStates, parseInquire, parseLeaderOwner, registerArgs, registerRefusal, releaseOutcome, resourceText, SANLOCK_RV, smallestFree } from './layout.js';

const files = leaseFiles('/srv/ardesia');

test('lease files lie in DATA_DIR/leases', () => {
  assert.deepEqual(files, { dir: '/srv/ardesia/leases', lockspace: '/srv/ardesia/leases/lockspace', homes: '/srv/ardesia/leases/homes' });
  assert.equal(lockspaceText(files, 3), 'ardesia:3:/srv/ardesia/leases/lockspace:0');
});

test('each home has its own MiB and a name unique by slot, within sanlock\'s 47 bytes', () => {
  const cases: Array<[number, string, string, number]> = [
    [0, 'alice', 'home0-alice', 0],
    [1, 'bob', 'home1-bob', 1048576],
    [7, 'x'.repeat(63), `home7-${'x'.repeat(41)}`, 7 * 1048576],
  ];
  for (const [slot, user, name, offset] of cases) {
    const r = homeResource(files, slot, user);
    assert.equal(r.name, name);
    assert.ok(r.name.length <= 47);
    assert.equal(r.offset, offset);
    assert.equal(resourceText(r), `ardesia:${name}:/srv/ardesia/leases/homes:${offset}`);
  }
  assert.throws(() => homeResource(files, -1, 'a'), RangeError);
});

test('smallestFree gives the first gap, undefined past the maximum', () => {
  const cases: Array<[number[], number, number | undefined, number | undefined]> = [
    [[], 1, undefined, 1],
    [[1, 2, 4], 1, undefined, 3],
    [[0, 1, 2], 0, undefined, 3],
    [[1, 2], 1, 2, undefined],
  ];
  for (const [used, first, max, want] of cases) assert.equal(smallestFree(used, first, max), want, `${used} from ${first}`);
});

test('host_dead_seconds is 8 × io + 60 (76 s at io 2, 140 s at the default 10)', () => {
  assert.equal(hostDeadSeconds(2), 76);
  assert.equal(hostDeadSeconds(10), 140);
  assert.equal(hostDeadSeconds(1), 68);
});

test('parseInquire reads sanlock\'s state string', () => {
  assert.deepEqual(parseInquire(''), []);
  assert.deepEqual(parseInquire('ardesia:home0-alice:/d/leases/homes:0:3\n'), [{ lockspace: 'ardesia', name: 'home0-alice', path: '/d/leases/homes', offset: 0, lver: 3 }]);
  assert.deepEqual(
    parseInquire('a:r1:/p:1048576:1 a:r2:/p:2097152:9').map((r) => [r.name, r.offset, r.lver]),
    [['r1', 1048576, 1], ['r2', 2097152, 9]],
  );
});

test('acquire refusals map to registry errors with a hint', () => {
  const cases: Array<[number, string]> = [
    [-243, 'HOME_LEASE_HELD'],
    [-244, 'HOME_LEASE_HELD'],
    [-245, 'HOME_LEASE_HELD'],
    [-247, 'HOME_LEASE_HELD'],
    [-17, 'HOME_LEASE_HELD'],
    [-111, 'LEASE_DAEMON_UNAVAILABLE'],
    [-2, 'LEASE_DAEMON_UNAVAILABLE'],
    [-241, 'LEASE_DAEMON_UNAVAILABLE'],
    [-223, 'HOME_LEASE_FAILED'],
    [-5, 'HOME_LEASE_FAILED'],
  ];
  for (const [rv, code] of cases) {
    const err = acquireError(rv, 'alice');
    assert.ok(err instanceof ArdesiaError);
    assert.equal(err.code, code, `rv ${rv}`);
    assert.match(err.message, new RegExp(`sanlock ${rv}`));
    assert.ok(err.hint.length > 20);
  }
  assert.match(acquireError(-247, 'alice').message, /has not expired yet/);
  assert.match(acquireError(-243, 'alice').message, /another server: that desktop is still ending/);
  assert.equal(heldElsewhere(-243), true);
  assert.equal(heldElsewhere(-17), false);
  assert.equal(daemonError(-111, 'x').code, 'LEASE_DAEMON_UNAVAILABLE');
});

test('the helper\'s failure line', () => {
  assert.equal(parseHelperFailure('sanlock -243\n'), -243);
  assert.equal(parseHelperFailure('ardesia:r:/p:0:1\n'), undefined);
  assert.equal(parseHelperFailure(''), undefined);
});

test('register\'s prefix acquires each resource, named as sanlock writes it, before the program', () => {
  const home = homeResource(files, 2, 'alice');
  assert.deepEqual(registerArgs('/h', []), ['/h', 'register', '--']);
  assert.deepEqual(registerArgs('/h', [home]), ['/h', 'register', '--acquire', 'ardesia:home2-alice:/srv/ardesia/leases/homes:2097152', '--']);
});

test('a launch refused by sanlock before exec is told from QEMU\'s own failures by its exit status', () => {
  const log = 'home-lease: acquiring refused by sanlock (-244)\nsanlock -244';
  const cases: Array<[string, string, number | undefined]> = [
    ['exit code 3', log, -244],
    ['exit code 3', 'home-lease: registering refused by sanlock (-111)\nsanlock -111', -111],
    ['exit code 1', log, undefined], // QEMU's own exit status
    ['killed by SIGKILL', log, undefined],
    ['exit code 3', 'qemu-system-x86_64: something else', undefined],
  ];
  for (const [exit, text, rv] of cases) assert.equal(registerRefusal(exit, text), rv, `${exit}: ${text}`);
});

test('an area is initialised only with its own magic', () => {
  const le = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n);
    return b;
  };
  assert.equal(areaInitialised(le(DELTA_MAGIC), DELTA_MAGIC), true);
  assert.equal(areaInitialised(le(PAXOS_MAGIC), DELTA_MAGIC), false);
  assert.equal(areaInitialised(Buffer.alloc(4), PAXOS_MAGIC), false);
  assert.equal(areaInitialised(Buffer.alloc(2), PAXOS_MAGIC), false);
});

test('parseHostStates reads `sanlock client gets -h 1` for one lockspace (output as sanlock 3.8.5 printed it here)', () => {
  const out = [
    's ardesia:1:/d/leases/lockspace:0 ',
    'h 1 gen 1 timestamp 2437 LIVE',
    'h 2 gen 3 timestamp 2456 FAIL',
    'h 13 gen 1 timestamp 2456 DEAD',
    's other:4:/x:0 ',
    'h 7 gen 1 timestamp 9 LIVE',
    'r ardesia:home3-alice:/d/leases/homes:3145728:1 p 4242',
    '',
  ].join('\n');
  assert.deepEqual([...parseHostStates(out, 'ardesia')], [[1, 'LIVE'], [2, 'FAIL'], [13, 'DEAD']]);
  assert.deepEqual([...parseHostStates(out, 'other')], [[7, 'LIVE']]);
  assert.deepEqual([...parseHostStates('', 'ardesia')], []);
});

test('parseLeaderOwner reads `sanlock direct read_leader` (as sanlock 3.8.5 printed it here): the last owner is kept after a release', () => {
  const leader = (owner: number, lver: number, timestamp: number, done = 0) =>
    [`read_leader done ${done}`, 'magic 0x6152010', 'version 0x60004', 'flags 0x10', 'sector_size 512', 'num_hosts 2000', 'max_hosts 2000', `owner_id ${owner}`, 'owner_generation 1', `lver ${lver}`, 'space_name LS', 'resource_name r1', `timestamp ${timestamp}`, 'checksum 0x7ac5cbf7', 'io_timeout 0', `write_id ${owner}`, 'write_generation 1', `write_timestamp ${timestamp}`, ''].join('\n');
  const cases: Array<[string, string, number | undefined]> = [
    ['never taken', leader(0, 0, 0), 0],
    ['held by host id 7', leader(7, 1, 11574), 7],
    ['released by host id 7', leader(7, 1, 0), 7],
    ['taken again by host id 12', leader(12, 2, 40), 12],
    ['a failed read', leader(7, 1, 0, -223), undefined],
    ['no output', '', undefined],
  ];
  for (const [what, out, want] of cases) assert.equal(parseLeaderOwner(out), want, what);
});

test('a release: done, gone with its QEMU, or busy (sanlock cleaning up after an exited QEMU, or in another request)', () => {
  const cases: Array<[number, boolean, ReturnType<typeof releaseOutcome>]> = [
    [0, true, 'released'],
    [SANLOCK_RV.ESRCH, false, 'released'],
    [SANLOCK_RV.ENOENT, true, 'released'],
    [SANLOCK_RV.EBUSY, false, 'released'],
    [SANLOCK_RV.EBUSY, true, 'retry'],
    [SANLOCK_RV.ECONNREFUSED, true, 'failed'],
    [SANLOCK_RV.EPERM, false, 'failed'],
  ];
  for (const [rv, alive, expected] of cases) assert.equal(releaseOutcome(rv, alive), expected, `${rv} alive=${alive}`);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  AGENT_FRAME_MAX_BYTES, AGENT_PROTOCOL_VERSION, agentMessageDecode, agentMessageEncode, controllerMessageDecode, controllerMessageEncode,
  joinTokenEncode, joinTokenParse, reconnectDelayMs, streamHeaderParse, type ControllerMessage, type JoinTokenContent,
} from './agent.js';
import { ArdesiaError } from './errors.js';

const FP = Array.from({ length: 32 }, (_, i) => (i * 7).toString(16).toUpperCase().padStart(2, '0')).join(':');
const TOKEN: JoinTokenContent = { v: 1, url: 'https://10.0.0.1:8443', fp: FP, host: 'blade2', id: 'abcdefgh12345678', secret: 'A'.repeat(43) };
const capacity = { memoryMiB: 4096, vcpus: 2, qemuVersion: '7.2.0', accel: 'tcg' as const, kvmProbe: { ok: false, detail: 'no VMX' }, storage: 'shared' as const, displayHop: true };

test('a join token round-trips; anything else is refused with AGENT_JOIN_TOKEN_INVALID and says why', () => {
  assert.deepEqual(joinTokenParse(`  ${joinTokenEncode(TOKEN)}\n`), TOKEN);
  const body = (o: object) => `ardesia-join.${Buffer.from(JSON.stringify(o)).toString('base64url')}`;
  const cases: Array<[string, RegExp]> = [
    ['', /does not start with/],
    ['ardesia-join.', /not readable/],
    ['ardesia-join.!!!', /not readable/],
    [joinTokenEncode(TOKEN).slice(0, -10), /not readable|secret|token/],
    [body({ ...TOKEN, url: 'http://10.0.0.1:8443' }), /url/],
    [body({ ...TOKEN, fp: 'AB:CD' }), /fp: a SHA-256 fingerprint/],
    [body({ ...TOKEN, secret: 'short' }), /secret/],
    [body({ ...TOKEN, host: 'bad host' }), /host/],
    [body({ ...TOKEN, v: 2 }), /v:/],
    [body({ ...TOKEN, extra: 1 }), /Unrecognized key/],
  ];
  for (const [text, why] of cases) {
    assert.throws(() => joinTokenParse(text), (e: unknown) => e instanceof ArdesiaError && e.code === 'AGENT_JOIN_TOKEN_INVALID' && why.test(e.message), JSON.stringify(text));
  }
});

test('agent messages: valid frames decode, invalid ones name the problem', () => {
  const hello = { type: 'hello' as const, protocol: 1, host: 'blade2', agentVersion: '0.1.0', capacity };
  const beat = { type: 'heartbeat' as const, seq: 3, load: { loadAverage1m: 0.5, memoryFreeMiB: 1000 } };
  const joining = { type: 'joining' as const, hostId: 3, waitedMs: 45_000 };
  for (const m of [hello, beat, joining]) assert.deepEqual(agentMessageDecode(agentMessageEncode(m)), { ok: true, message: m });
  assert.deepEqual(agentMessageDecode(Buffer.from(JSON.stringify(beat))), { ok: true, message: beat });
  const cases: Array<[string | Buffer, RegExp]> = [
    ['not json', /not JSON/],
    ['{"type":"bye"}', /type/],
    [JSON.stringify({ ...hello, capacity: { ...capacity, accel: 'hvf' } }), /capacity\.accel/],
    [JSON.stringify({ ...hello, capacity: { ...capacity, memoryMiB: 0 } }), /capacity\.memoryMiB/],
    [JSON.stringify({ ...beat, seq: -1 }), /seq/],
    [JSON.stringify({ ...joining, hostId: 0 }), /hostId/],
    [JSON.stringify({ ...beat, credential: 'x' }), /Unrecognized key/],
    [`{"type":"heartbeat","pad":"${'x'.repeat(AGENT_FRAME_MAX_BYTES)}"}`, /a frame of \d+ bytes/],
  ];
  for (const [frame, why] of cases) {
    const r = agentMessageDecode(frame);
    assert.equal(r.ok, false, String(frame).slice(0, 60));
    if (!r.ok) assert.match(r.problem, why);
  }
  assert.throws(() => agentMessageEncode({ ...beat, seq: -2 }));
});

test('controller messages: accepted, refused with a registry code, ack; an unknown code is refused', () => {
  const msgs: ControllerMessage[] = [
    { type: 'accepted', protocol: 1, hostId: 'blade2', heartbeatEveryMs: 3000 },
    { type: 'refused', code: 'AGENT_CREDENTIAL_REFUSED', message: 'no', hint: 'print a token' },
    { type: 'ack', seq: 9 },
  ];
  for (const m of msgs) assert.deepEqual(controllerMessageDecode(controllerMessageEncode(m)), { ok: true, message: m });
  const r = controllerMessageDecode(JSON.stringify({ ...msgs[1], code: 'NOT_A_CODE' }));
  assert.equal(r.ok, false);
});

test("VMs' desired and observed states: the spec is parsed with its defaults, bad states and generations are refused", () => {
  const desired = { type: 'vm-desired', full: true, vms: [{ name: 'v1', spec: { name: 'v1', memoryMiB: 256 }, desired: 'running', generation: 1_764_900_000_000 }] };
  const d = controllerMessageDecode(JSON.stringify(desired));
  assert.ok(d.ok && d.message.type === 'vm-desired' && d.message.vms[0]!.spec.vcpus === 1, JSON.stringify(d));
  const observed = { type: 'vm-observed' as const, full: true, vms: [{ name: 'v1', state: 'running' as const, pid: 42, accel: 'tcg' as const, startedAt: '2026-12-05T00:00:00.000Z', generation: 3, exitReason: null }] };
  assert.deepEqual(agentMessageDecode(agentMessageEncode(observed)), { ok: true, message: observed });
  const bad: Array<[string, RegExp]> = [
    [JSON.stringify({ ...desired, vms: [{ ...desired.vms[0], desired: 'paused' }] }), /vms\.0\.desired/],
    [JSON.stringify({ ...desired, vms: [{ ...desired.vms[0], generation: 1.5 }] }), /vms\.0\.generation/],
    [JSON.stringify({ ...desired, vms: [{ ...desired.vms[0], spec: { name: 'v1', memoryMiB: 1 } }] }), /vms\.0\.spec\.memoryMiB/],
  ];
  for (const [frame, why] of bad) {
    const r = controllerMessageDecode(frame);
    assert.ok(!r.ok && why.test(r.problem), `${frame}: ${JSON.stringify(r)}`);
  }
  const r = agentMessageDecode(JSON.stringify({ ...observed, vms: [{ ...observed.vms[0], state: 'gone' }] }));
  assert.ok(!r.ok && /vms\.0\.state/.test(r.problem));
});

test('reconnect delays double from the base, stop at the cap, and jitter within [ceiling/2, ceiling]', () => {
  const rows: Array<[number, number, number]> = [
    [0, 0, 250], [0, 1, 500], [1, 0, 500], [1, 1, 1000], [3, 0.5, 3000], [5, 1, 15_000], [40, 0, 7500], [40, 1, 15_000], [2, 7, 2000], [2, -1, 1000],
  ];
  for (const [attempt, random, want] of rows) assert.equal(reconnectDelayMs(attempt, random), want, `attempt ${attempt} random ${random}`);
});

test('console streams: stream-open and stream-failed round-trip; the stream header is ID.SECRET or nothing', () => {
  const open = { type: 'stream-open' as const, id: 'A'.repeat(16), secret: 's'.repeat(43), vm: 'v1', kind: 'console' as const, replay: 4096 };
  assert.deepEqual(controllerMessageDecode(controllerMessageEncode(open)), { ok: true, message: open });
  const failed = { type: 'stream-failed' as const, id: open.id, code: 'VM_NOT_RUNNING' as const, message: 'vm v1 does not run on host a1' };
  assert.deepEqual(agentMessageDecode(agentMessageEncode(failed)), { ok: true, message: failed });
  const bad: Array<[unknown, RegExp]> = [
    [{ ...open, kind: 'audio' }, /kind/],
    [{ ...open, secret: 'short' }, /secret/],
    [{ ...open, id: 'a/b'.repeat(6) }, /id/],
    [{ ...open, replay: 65537 }, /replay/],
  ];
  for (const [m, why] of bad) {
    const r = controllerMessageDecode(JSON.stringify(m));
    assert.ok(!r.ok && why.test(r.problem), `${JSON.stringify(m)}: ${JSON.stringify(r)}`);
  }
  assert.equal(agentMessageDecode(JSON.stringify({ ...failed, code: 'NOT_A_CODE' })).ok, false);
  const header: Array<[string | undefined, ReturnType<typeof streamHeaderParse>]> = [
    [`${open.id}.${open.secret}`, { id: open.id, secret: open.secret }],
    [undefined, undefined],
    ['', undefined],
    [`${open.id}${open.secret}`, undefined],
    [`${open.id}.${open.secret}x`, undefined],
    [`${open.id}.${open.secret}\n`, undefined],
  ];
  for (const [value, want] of header) assert.deepEqual(streamHeaderParse(value), want, JSON.stringify(value));
});

test("pool desktops' messages: guest events, disk commands and their answers; a path, id or code that is not one is refused", () => {
  const agentOk = [
    { type: 'vm-event' as const, vm: 'd1', event: 'guest-reset' as const },
    { type: 'vm-command-result' as const, id: 'abcdefgh12345678', value: true },
    { type: 'vm-command-result' as const, id: 'abcdefgh12345678', error: { code: 'VM_NOT_RUNNING' as const, message: 'vm d1 does not run on host a1' } },
  ];
  for (const m of agentOk) assert.deepEqual(agentMessageDecode(agentMessageEncode(m)), { ok: true, message: m });
  const plug: ControllerMessage = { type: 'vm-command', id: 'abcdefgh12345678', vm: 'd1', command: { op: 'disk-plug', path: '/srv/ardesia/homes/alice/home.qcow2', node: 'home0', device: 'home0', serial: 'ardesia-home' } };
  const unplug: ControllerMessage = { type: 'vm-command', id: 'abcdefgh12345678', vm: 'd1', command: { op: 'disk-unplug', node: 'home0', device: 'home0', timeoutMs: 15_000 } };
  const guestStream: ControllerMessage = { type: 'stream-open', id: 'abcdefgh12345678', secret: 'A'.repeat(43), vm: 'd1', kind: 'guest', replay: 0 };
  for (const m of [plug, unplug, guestStream]) assert.deepEqual(controllerMessageDecode(controllerMessageEncode(m)), { ok: true, message: m });
  const bad: Array<[string, RegExp]> = [
    [JSON.stringify({ ...plug, command: { ...(plug as { command: object }).command, path: 'homes/alice/home.qcow2' } }), /command\.path/],
    [JSON.stringify({ ...plug, command: { ...(plug as { command: object }).command, device: 'home0,drive=x' } }), /command\.device/],
    [JSON.stringify({ ...unplug, command: { op: 'disk-unplug', node: 'home0', device: 'home0', timeoutMs: 0 } }), /command\.timeoutMs/],
    [JSON.stringify({ ...plug, command: { op: 'quit' } }), /command\.op/],
  ];
  for (const [frame, why] of bad) {
    const r = controllerMessageDecode(frame);
    assert.equal(r.ok, false, frame);
    if (!r.ok) assert.match(r.problem, why);
  }
  const badResult = agentMessageDecode(JSON.stringify({ type: 'vm-command-result', id: 'abcdefgh12345678', error: { code: 'NOT_A_CODE', message: 'x' } }));
  assert.equal(badResult.ok, false);
  const badEvent = agentMessageDecode(JSON.stringify({ type: 'vm-event', vm: 'd1', event: 'powerdown' }));
  assert.ok(!badEvent.ok && /event/.test(badEvent.problem));
});

test('protocol 5: a start carries its image files with their sha256; SPICE streams and the one-time SPICE password', () => {
  const spec = { name: 'd1', arch: 'amd64', memoryMiB: 256, vcpus: 1, disks: [], boot: { firmware: 'bios' } };
  const images = [{ path: '/srv/ardesia/images/deb/1.qcow2', sha256: 'ab'.repeat(32) }];
  const start = { type: 'vm-desired', full: false, vms: [{ name: 'd1', spec, desired: 'running', generation: 3, images }] };
  const decoded = controllerMessageDecode(JSON.stringify(start));
  assert.ok(decoded.ok && decoded.message.type === 'vm-desired' && decoded.message.vms[0]!.images?.[0]?.sha256 === 'ab'.repeat(32), JSON.stringify(decoded));
  const spiceStream: ControllerMessage = { type: 'stream-open', id: 'abcdefgh12345678', secret: 'A'.repeat(43), vm: 'd1', kind: 'spice', replay: 0 };
  const spiceLogin: ControllerMessage = { type: 'vm-command', id: 'abcdefgh12345678', vm: 'd1', command: { op: 'spice-login' } };
  for (const m of [spiceStream, spiceLogin]) assert.deepEqual(controllerMessageDecode(controllerMessageEncode(m)), { ok: true, message: m });
  const bad: Array<[object, RegExp]> = [
    [{ ...start, vms: [{ ...start.vms[0], images: [{ path: images[0]!.path, sha256: 'AB'.repeat(32) }] }] }, /sha256/],
    [{ ...start, vms: [{ ...start.vms[0], images: [{ path: images[0]!.path, sha256: 'ab'.repeat(31) }] }] }, /sha256/],
    [{ ...start, vms: [{ ...start.vms[0], images: Array.from({ length: 65 }, () => images[0]) }] }, /images/],
    [{ ...spiceLogin, command: { op: 'spice-login', password: 'mine' } }, /password|command/],
  ];
  for (const [frame, why] of bad) {
    const r = controllerMessageDecode(JSON.stringify(frame));
    assert.equal(r.ok, false, JSON.stringify(frame));
    if (!r.ok) assert.match(r.problem, why);
  }
});

test('protocol 6: a live migration carries the hot-plugged home and its lease, refused when malformed', () => {
  const spec = { name: 'd1', arch: 'amd64', memoryMiB: 256, vcpus: 1, disks: [], boot: { firmware: 'bios' } };
  const stream = { id: 'abcdefgh12345678', secret: 'A'.repeat(43) };
  const disk = { path: '/srv/ardesia/homes/alice.qcow2', node: 'home0', device: 'home0', serial: 'ARDHOME' };
  const lease = { user: 'alice', resource: { lockspace: 'ardesia', name: 'home0-alice', path: '/srv/ardesia/leases/homes', offset: 0 } };
  const moves: ControllerMessage[] = [
    { type: 'vm-command', id: 'abcdefgh12345678', vm: 'd1', command: { op: 'migrate-in', spec: spec as never, generation: 4, stream, disks: [disk], leases: [lease] } },
    { type: 'vm-command', id: 'abcdefgh12345678', vm: 'd1', command: { op: 'migrate-out', generation: 4, stream, to: 'a2', leases: [lease] } },
    { type: 'vm-command', id: 'abcdefgh12345678', vm: 'd1', command: { op: 'migrate-resume', leases: [lease] } },
  ];
  for (const m of moves.slice(1)) assert.deepEqual(controllerMessageDecode(controllerMessageEncode(m)), { ok: true, message: m });
  const arriving = controllerMessageDecode(controllerMessageEncode(moves[0]!)); // its spec gets the contract's defaults
  assert.ok(arriving.ok && arriving.message.type === 'vm-command' && arriving.message.command.op === 'migrate-in', JSON.stringify(arriving));
  assert.deepEqual([arriving.message.command.disks, arriving.message.command.leases], [[disk], [lease]]);
  const migrateIn = { type: 'vm-command', id: 'abcdefgh12345678', vm: 'd1', command: { op: 'migrate-in', spec, generation: 4, stream } };
  const bad: Array<[object, RegExp]> = [
    [{ ...migrateIn, command: { ...migrateIn.command, disks: [{ ...disk, path: 'homes/alice.qcow2' }] } }, /path|command/],
    [{ ...migrateIn, command: { ...migrateIn.command, disks: [{ ...disk, op: 'disk-plug' }] } }, /op|command|Unrecognized/],
    [{ ...migrateIn, command: { ...migrateIn.command, leases: [{ ...lease, user: '../root' }] } }, /user|command/],
    [{ ...migrateIn, command: { ...migrateIn.command, leases: Array.from({ length: 5 }, () => lease) } }, /leases|command/],
    [{ type: 'vm-command', id: 'abcdefgh12345678', vm: 'd1', command: { op: 'migrate-resume', leases: [{ ...lease, resource: { ...lease.resource, offset: -1 } }] } }, /offset|command/],
  ];
  for (const [frame, why] of bad) {
    const r = controllerMessageDecode(JSON.stringify(frame));
    assert.equal(r.ok, false, JSON.stringify(frame));
    if (!r.ok) assert.match(r.problem, why);
  }
});

test('protocol 7: a host says its storage; a VM for a host without shared storage says how its files are had; image files are asked for and streamed', () => {
  const local = { ...capacity, storage: 'local' as const };
  const hello = { type: 'hello' as const, protocol: 7, host: 'blade4', agentVersion: '0.1.0', capacity: local };
  const fetch = { type: 'image-fetch' as const, id: 'abcdefgh12345678', path: '/srv/ardesia/images/deb/3.qcow2', offset: 1048576 };
  for (const m of [hello, fetch]) assert.deepEqual(agentMessageDecode(agentMessageEncode(m)), { ok: true, message: m });
  const spec = { name: 'd1', arch: 'amd64', memoryMiB: 256, vcpus: 1, disks: [], boot: { firmware: 'bios' }, nics: [], enabled: false, accel: 'auto' };
  const files = { disks: [{ disk: 0, base: '/srv/ardesia/images/deb/3.qcow2' }, { disk: 1, blankBytes: 2 ** 30 }], boot: ['/srv/ardesia/images/deb/boot/kernel-x'] };
  const answers: ControllerMessage[] = [
    { type: 'vm-desired', full: false, vms: [{ name: 'd1', spec: spec as never, desired: 'stopped', generation: 2, images: [], local: files }] },
    { type: 'image-stream', id: 'abcdefgh12345678', stream: { id: 'abcdefgh12345678', secret: 'A'.repeat(43) }, size: 2 ** 30, sha256: 'a'.repeat(64) },
    { type: 'image-stream', id: 'abcdefgh12345678', error: { code: 'IMAGE_NOT_FOUND', message: 'not an image file' } },
  ];
  for (const m of answers) assert.deepEqual(controllerMessageDecode(controllerMessageEncode(m)), { ok: true, message: m });
  const bad: Array<[object, RegExp]> = [
    [{ ...hello, capacity: { ...local, storage: 'nfs' } }, /storage|capacity/],
    [{ ...fetch, path: 'images/deb/3.qcow2' }, /path/],
    [{ ...fetch, offset: -1 }, /offset/],
  ];
  for (const [frame, why] of bad) {
    const r = agentMessageDecode(Buffer.from(JSON.stringify(frame)));
    assert.equal(r.ok, false, JSON.stringify(frame));
    if (!r.ok) assert.match(r.problem, why);
  }
  const badDesired = { type: 'vm-desired', full: false, vms: [{ name: 'd1', spec, desired: 'running', generation: 2, local: { disks: [{ disk: 0, base: 'relative.qcow2' }], boot: [] } }] };
  assert.equal(controllerMessageDecode(JSON.stringify(badDesired)).ok, false);
});

test('protocol 8: a hello says whether the agent has the display hop; a display stream may name the port of the controller\'s end', () => {
  const open = { type: 'stream-open' as const, id: 'abcdefgh12345678', secret: 'A'.repeat(43), vm: 'd1', kind: 'display' as const, replay: 0, hop: { port: 40123 } };
  assert.deepEqual(controllerMessageDecode(controllerMessageEncode(open)), { ok: true, message: open });
  const withoutHop = { type: 'hello', protocol: 8, host: 'blade4', agentVersion: '0.1.0', capacity: { ...capacity, displayHop: undefined } };
  const bad: Array<[string, object, RegExp]> = [
    ['agent', withoutHop, /displayHop|capacity/],
    ['controller', { ...open, hop: { port: 0 } }, /port/],
    ['controller', { ...open, hop: { port: 70000 } }, /port/],
    ['controller', { ...open, hop: { port: 1, address: '10.0.0.1' } }, /hop|address|Unrecognized/],
  ];
  for (const [side, frame, why] of bad) {
    const r = side === 'agent' ? agentMessageDecode(JSON.stringify(frame)) : controllerMessageDecode(JSON.stringify(frame));
    assert.equal(r.ok, false, JSON.stringify(frame));
    if (!r.ok) assert.match(r.problem, why);
  }
});

test('protocol 9: migrate-resume may ask the source to run the VM on only if its state never left', () => {
  const ask = { type: 'vm-command' as const, id: 'abcdefgh12345678', vm: 'd1', command: { op: 'migrate-resume' as const, ifStayed: true as const } };
  assert.deepEqual(controllerMessageDecode(controllerMessageEncode(ask)), { ok: true, message: ask });
  for (const ifStayed of [false, 'yes', 1]) {
    const r = controllerMessageDecode(JSON.stringify({ ...ask, command: { op: 'migrate-resume', ifStayed } }));
    assert.equal(r.ok, false, String(ifStayed));
  }
});

test('protocol 10: an agent joining the lockspace says so while it may not heartbeat yet', () => {
  const joining = { type: 'joining' as const, hostId: 2000, waitedMs: 0 };
  assert.deepEqual(agentMessageDecode(agentMessageEncode(joining)), { ok: true, message: joining });
  for (const bad of [{ ...joining, hostId: 2001 }, { ...joining, waitedMs: -1 }, { type: 'joining', hostId: 1 }]) assert.equal(agentMessageDecode(JSON.stringify(bad)).ok, false, JSON.stringify(bad));
});

test("protocol 11: a clone's start carries its restore template; a failed start's report carries its registry code, a clone's its restore time", () => {
  const spec = { name: 'd1', memoryMiB: 256 };
  const restoreFrom = { stream: '/srv/ardesia/templates/k/1/state.bin', ramFile: '/srv/ardesia/templates/k/1/ram.bin', manifest: { key: '0123456789abcdef' } };
  const desired = { type: 'vm-desired' as const, full: false, vms: [{ name: 'd1', spec, desired: 'running' as const, generation: 3, restoreFrom }] };
  const decoded = controllerMessageDecode(controllerMessageEncode(desired as never));
  assert.equal(decoded.ok, true);
  assert.deepEqual(decoded.ok && decoded.message.type === 'vm-desired' && decoded.message.vms[0]!.restoreFrom, restoreFrom);
  for (const bad of [{ ...restoreFrom, stream: 'state.bin' }, { ...restoreFrom, extra: 1 }, { stream: restoreFrom.stream, ramFile: restoreFrom.ramFile }]) {
    assert.equal(controllerMessageDecode(JSON.stringify({ ...desired, vms: [{ ...desired.vms[0], restoreFrom: bad }] })).ok, false, JSON.stringify(bad));
  }
  const observed = { name: 'd1', state: 'stopped', pid: null, accel: null, startedAt: null, generation: 3, exitReason: 'start failed: …', startFailedCode: 'VM_STATE_RESTORE_FAILED' };
  assert.equal(agentMessageDecode(JSON.stringify({ type: 'vm-observed', full: false, vms: [observed] })).ok, true);
  assert.equal(agentMessageDecode(JSON.stringify({ type: 'vm-observed', full: false, vms: [{ ...observed, startFailedCode: 'NOT_A_CODE' }] })).ok, false);
  const running = { ...observed, state: 'running', pid: 42, accel: 'tcg', startedAt: '2026-12-07T00:00:00.000Z', exitReason: null, startFailedCode: undefined, restoreMs: 131 };
  assert.equal(agentMessageDecode(JSON.stringify({ type: 'vm-observed', full: false, vms: [running] })).ok, true);
  assert.equal(agentMessageDecode(JSON.stringify({ type: 'vm-observed', full: false, vms: [{ ...running, restoreMs: -1 }] })).ok, false);
});

test("protocol 12: a stop to disk and its discard are commands to the VM's agent, and a plugged home's copy; a stopped VM's report says a state is kept there", () => {
  for (const op of ['state-save', 'state-discard']) {
    const command = { type: 'vm-command' as const, id: 'AAAAAAAAAAAAAAAA', vm: 'v1', command: { op } };
    assert.deepEqual(controllerMessageDecode(JSON.stringify(command)), { ok: true, message: command });
    assert.equal(controllerMessageDecode(JSON.stringify({ ...command, command: { op, extra: 1 } })).ok, false);
  }
  assert.equal(controllerMessageDecode(JSON.stringify({ type: 'vm-command', id: 'AAAAAAAAAAAAAAAA', vm: 'v1', command: { op: 'state-load' } })).ok, false);
  // A home's copy for a backup, made on the VM's host into the shared folder: an absolute path only.
  const copy = { type: 'vm-command' as const, id: 'AAAAAAAAAAAAAAAA', vm: 'd1', command: { op: 'disk-copy', node: 'home0', target: '/srv/ardesia/.backup-x/homes/alice/home.qcow2', sizeBytes: 67108864 } };
  assert.deepEqual(controllerMessageDecode(JSON.stringify(copy)), { ok: true, message: copy });
  for (const bad of [{ target: 'homes/alice/home.qcow2' }, { sizeBytes: 0 }, { node: 'home 0' }]) assert.equal(controllerMessageDecode(JSON.stringify({ ...copy, command: { ...copy.command, ...bad } })).ok, false, JSON.stringify(bad));
  const observed = { name: 'v1', state: 'stopped', pid: null, accel: null, startedAt: null, generation: 4, exitReason: 'its state was saved', savedState: true };
  assert.equal(agentMessageDecode(JSON.stringify({ type: 'vm-observed', full: false, vms: [observed] })).ok, true);
  assert.equal(agentMessageDecode(JSON.stringify({ type: 'vm-observed', full: false, vms: [{ ...observed, savedState: false }] })).ok, false, 'said only when there is one');
});

test("protocol 13: saved states streamed both ways (send from the VM's host, receive with the VM's spec), and a VM owner's start with the folders its files are checked by", () => {
  assert.equal(AGENT_PROTOCOL_VERSION, 13);
  const spec = { name: 'v1', arch: 'amd64', memoryMiB: 256, vcpus: 1, disks: [], boot: { firmware: 'bios' }, nics: [], enabled: false, accel: 'auto' };
  const stream = { id: 'abcdefgh12345678', secret: 'A'.repeat(43) };
  const send = { type: 'vm-command' as const, id: 'AAAAAAAAAAAAAAAA', vm: 'v1', command: { op: 'state-send' as const, stream } };
  const receive = { type: 'vm-command' as const, id: 'AAAAAAAAAAAAAAAA', vm: 'v1', command: { op: 'state-receive' as const, stream, spec: spec as never } };
  for (const m of [send, receive]) assert.deepEqual(controllerMessageDecode(controllerMessageEncode(m)), { ok: true, message: m });
  assert.equal(controllerMessageDecode(JSON.stringify({ ...receive, command: { op: 'state-receive', stream } })).ok, false, 'a receive names the spec');
  assert.equal(controllerMessageDecode(JSON.stringify({ ...send, command: { op: 'state-send', stream: { id: 'short', secret: stream.secret } } })).ok, false);
  const confined = { principal: 'nobody', dataDir: '/srv/ardesia', roots: [{ path: '/srv/ardesia/owners/nobody', readOnly: false }], denied: ['/etc', '/dev'] };
  const desired: ControllerMessage = { type: 'vm-desired', full: false, vms: [{ name: 'v1', spec: spec as never, desired: 'running', generation: 3, confined }] };
  assert.deepEqual(controllerMessageDecode(controllerMessageEncode(desired)), { ok: true, message: desired });
  for (const bad of [{ ...confined, dataDir: 'srv/ardesia' }, { ...confined, roots: [{ path: 'owners/nobody', readOnly: false }] }, { ...confined, extra: 1 }]) {
    assert.equal(controllerMessageDecode(JSON.stringify({ ...desired, vms: [{ ...desired.vms[0], confined: bad }] })).ok, false, JSON.stringify(bad));
  }
});

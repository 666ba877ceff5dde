import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { guardedFolderOf, guardOwnerOf, processStartOf, staleGuards, splitVmUids, allowListNics, groupIdOf, natAllowElements, natGuardRemoval, natGuardRuleset, natGuardTable, openNatNics, resolversOf, vmAllowList, wantsHostAccess } from './nat-guard.js';
import type { NicSpec } from '../contract/vm.js';

describe('resolversOf', () => {
  const cases: Array<[string, string, string[]]> = [
    ['systemd-resolved stub', 'nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch lan\n', ['127.0.0.53']],
    ['IPv4 and IPv6, duplicates once', 'nameserver 10.0.0.1\n  nameserver ::1\nnameserver 10.0.0.1\n', ['10.0.0.1', '::1']],
    ['comments, junk and scoped IPv6 skipped', '# nameserver 1.1.1.1\nnameserver resolver.lan\nnameserver fe80::1%eth0\n', []],
    ['empty', '', []],
  ];
  for (const [name, text, want] of cases) it(name, () => assert.deepEqual(resolversOf(text), want));
});

const T = 'ardesia_guard_0123abcd';
const R = { base: 2_000_000_000, size: 65_536 };
const O = { pid: 4242, start: 987_654 };

describe('natGuardTable', () => {
  it('is one stable name per data folder, the same however the folder is written', () => {
    assert.match(natGuardTable('/var/lib/ardesia'), /^ardesia_guard_[0-9a-f]{8}$/);
    assert.equal(natGuardTable('/var/lib/ardesia'), natGuardTable('/var/lib//ardesia/'));
    assert.notEqual(natGuardTable('/var/lib/ardesia'), natGuardTable('/srv/ardesia'));
  });
});

describe('natGuardRuleset', () => {
  it('replaces the table in one transaction and filters only the account, host group first, DNS before the local reject', () => {
    const text = natGuardRuleset({ owner: O, table: T, uid: 995, hostGid: 994, resolvers: ['127.0.0.53', '::1'], vmUids: R });
    const lines = text.split('\n').map((l) => l.trim());
    assert.deepEqual(lines.slice(0, 3), [`add table inet ${T}`, `delete table inet ${T}`, `table inet ${T} {`]);
    const at = (rule: string) => {
      const i = lines.lastIndexOf(rule); // the output chain comes last (allow_listed also skips connections that are not new)
      assert.ok(i >= 0, `missing: ${rule}\n${text}`);
      return i;
    };
    const own = at('meta skuid != { 995, 2000000000-2000032767 } return'); // the account and the lower half: QEMUs of open NAT
    const newOnly = at('ct state != new return');
    const group = at('meta skgid 994 counter accept');
    const dns = at('ip daddr 127.0.0.53 udp dport 53 accept');
    at('ip daddr 127.0.0.53 tcp dport 53 accept');
    at('ip6 daddr ::1 udp dport 53 accept');
    const local = at('fib daddr type local meta l4proto tcp counter reject with tcp reset');
    at('fib daddr type local counter reject with icmpx admin-prohibited');
    at('ip daddr 127.0.0.0/8 counter reject with icmpx admin-prohibited');
    at('ip6 daddr ::1 counter reject with icmpx admin-prohibited');
    const range = at('meta skuid 2000032768-2000065535 goto allow_listed');
    assert.ok(range < own && own < newOnly && newOnly < group && group < dns && dns < local);
    assert.match(text, /type filter hook output priority filter; policy accept;/);
  });
  it('names its owner in the table\'s comment, read back as nft lists it', () => {
    const text = natGuardRuleset({ owner: O, table: T, uid: 995, resolvers: [], vmUids: R });
    assert.match(text, /^  comment "ardesia owner pid 4242 start 987654"$/m);
    const listed = `table inet ${T} {\n\tcomment "ardesia owner pid 4242 start 987654"\n\tset allow_list {\n`;
    assert.deepEqual(guardOwnerOf(listed), O);
    assert.equal(guardOwnerOf(`table inet ${T} {\n\tset allow_list {\n`), undefined);
    assert.throws(() => natGuardRuleset({ owner: { pid: 0, start: 1 }, table: T, uid: 995, resolvers: [], vmUids: R }), RangeError);
  });
  it('has no accept for a host group that does not exist, nor DNS rules without resolvers', () => {
    const text = natGuardRuleset({ owner: O, table: T, uid: 995, resolvers: [], vmUids: R });
    assert.doesNotMatch(text, /skgid|dport 53/);
  });
  it('refuses ids and resolvers that would change the rule text', () => {
    assert.throws(() => natGuardRuleset({ owner: O, table: T, uid: -1, resolvers: [], vmUids: R }), RangeError);
    assert.throws(() => natGuardRuleset({ owner: O, table: T, uid: 995, hostGid: 1.5, resolvers: [], vmUids: R }), RangeError);
    assert.throws(() => natGuardRuleset({ owner: O, table: T, uid: 995, resolvers: ['1.2.3.4 accept; flush ruleset'], vmUids: R }), RangeError);
    assert.throws(() => natGuardRuleset({ owner: O, table: 'filter', uid: 995, resolvers: [], vmUids: R }), RangeError);
  });
  it("sends the VMs' own uids to a chain that accepts only their set's destinations and rejects the rest (fail closed)", () => {
    const text = natGuardRuleset({ owner: O, table: T, uid: 995, resolvers: ['127.0.0.53'], vmUids: R });
    const chain = text.slice(text.indexOf('chain allow_listed {'), text.indexOf('chain output {'));
    assert.deepEqual(chain.split('\n').map((l) => l.trim()).filter(Boolean), [
      'chain allow_listed {',
      'ct state != new return',
      'meta skuid . ip daddr . tcp dport @allow_list counter accept',
      'meta l4proto tcp counter reject with tcp reset',
      'counter reject with icmpx admin-prohibited',
      '}',
    ]);
    assert.match(text, /set allow_list \{\n\s+type uid \. ipv4_addr \. inet_service\n\s+\}/);
    assert.doesNotMatch(chain, /dport 53/, 'no DNS for an allow-list VM: only its listed destinations');
  });
  it('refuses a VM uid range that is empty or holds the account', () => {
    assert.throws(() => natGuardRuleset({ owner: O, table: T, uid: 2_000_000_005, resolvers: [], vmUids: R }), RangeError);
    assert.throws(() => natGuardRuleset({ owner: O, table: T, uid: 995, resolvers: [], vmUids: { base: 3000, size: 1 } }), RangeError);
    assert.throws(() => natGuardRuleset({ owner: O, table: T, uid: 2_000_040_000, resolvers: [], vmUids: R }), RangeError);
  });
  it('removal deletes only its own table, whether or not it exists', () => {
    assert.equal(natGuardRemoval(T), `add table inet ${T}\ndelete table inet ${T}\n`);
    assert.throws(() => natGuardRemoval('filter'), RangeError);
  });
});

describe('which NICs the guard concerns', () => {
  const nic = (n: Partial<NicSpec>): NicSpec => ({ mode: 'user', model: 'virtio', ...n });
  const cases: Array<[string, NicSpec[], number, boolean]> = [
    ['open NAT', [nic({})], 1, false],
    ['open NAT opened to the host', [nic({ hostAccess: true })], 1, true],
    ['restricted NAT (slirp connects only its allow-list)', [nic({ restrict: true, allow: [] })], 0, false],
    ['bridge', [nic({ mode: 'bridge', bridge: 'br0' })], 0, false],
    ['one of two NICs opened', [nic({}), nic({ hostAccess: true })], 2, true],
  ];
  for (const [name, nics, open, host] of cases) {
    it(name, () => {
      assert.equal(openNatNics({ nics }).length, open);
      assert.equal(wantsHostAccess({ nics }), host);
    });
  }
});

describe('groupIdOf', () => {
  const group = 'root:x:0:\nkvm:x:993:ardesia-qemu\nardesia-qemu-host:x:994:\nbroken:x::\n';
  it('finds the gid', () => assert.equal(groupIdOf(group, 'ardesia-qemu-host'), 994));
  it('is undefined when absent or malformed', () => {
    assert.equal(groupIdOf(group, 'nope'), undefined);
    assert.equal(groupIdOf(group, 'broken'), undefined);
  });
});

describe('splitVmUids', () => {
  it('gives open NAT and other VMs the lower half, allow-list VMs the upper half', () => {
    assert.deepEqual(splitVmUids(R), [{ base: 2_000_000_000, size: 32_768 }, { base: 2_000_032_768, size: 32_768 }]);
    assert.deepEqual(splitVmUids({ base: 10, size: 3 }), [{ base: 10, size: 1 }, { base: 11, size: 2 }]);
  });
});

describe('natAllowElements', () => {
  const allow = [{ host: '10.77.0.1', port: 8080 }, { host: '10.1.2.3', port: 445 }, { host: '10.77.0.1', port: 8080 }];
  it('adds and deletes one uid . address . port per destination, duplicates once', () => {
    assert.equal(natAllowElements('add', T, 2_000_000_007, allow), `add element inet ${T} allow_list { 2000000007 . 10.77.0.1 . 8080, 2000000007 . 10.1.2.3 . 445 }\n`);
    assert.equal(natAllowElements('delete', T, 7, allow.slice(1, 2)), `delete element inet ${T} allow_list { 7 . 10.1.2.3 . 445 }\n`);
  });
  it('is nothing for an empty list', () => assert.equal(natAllowElements('add', T, 7, []), ''));
  it('refuses text that would change the script', () => {
    assert.throws(() => natAllowElements('add', T, 7, [{ host: '10.0.0.1 } ; flush ruleset ; {', port: 1 }]), RangeError);
    assert.throws(() => natAllowElements('add', T, 7, [{ host: '::1', port: 1 }]), RangeError);
    assert.throws(() => natAllowElements('add', T, 7, [{ host: '10.0.0.1', port: 0 }]), RangeError);
    assert.throws(() => natAllowElements('add', 'filter', 7, allow), RangeError);
    assert.throws(() => natAllowElements('add', T, -7, allow), RangeError);
  });
});

describe('allowListNics / vmAllowList', () => {
  const nic = (n: Partial<NicSpec>): NicSpec => ({ mode: 'user', model: 'virtio', ...n });
  it('only user NICs with destinations; their lists joined', () => {
    const nics = [nic({ restrict: true, allow: [{ host: '10.0.0.1', port: 80 }] }), nic({ restrict: true, allow: [] }), nic({ restrict: true }), nic({}), nic({ restrict: true, allow: [{ host: '10.0.0.2', port: 22 }] })];
    assert.equal(allowListNics({ nics }).length, 2);
    assert.deepEqual(vmAllowList({ nics }), [{ host: '10.0.0.1', port: 80 }, { host: '10.0.0.2', port: 22 }]);
  });
});

describe('stale guard tables', () => {
  it('reads a process\'s start time after its command, whatever the command holds', () => {
    const stat = (comm: string) => `4242 (${comm}) S 1 4242 4242 0 -1 4194560 1234 0 0 0 10 5 0 0 20 0 11 0 987654 123456789 5000 18446744073709551615`;
    assert.equal(processStartOf(stat('node')), 987_654);
    assert.equal(processStartOf(stat('a) b (c')), 987_654);
    assert.equal(processStartOf(''), undefined);
  });
  it('finds the guarded folder in a QEMU\'s argv by its pidfile', () => {
    assert.equal(guardedFolderOf(['qemu-system-x86_64', '-name', 'x', '-pidfile', '/var/lib/ardesia/runtime/desk-1/qemu.pid']), '/var/lib/ardesia');
    assert.equal(guardedFolderOf(['qemu-system-x86_64', '-pidfile', 'relative/runtime/x/qemu.pid']), undefined);
    assert.equal(guardedFolderOf(['qemu-system-x86_64', '-pidfile']), undefined);
    assert.equal(guardedFolderOf(['sleep', '10']), undefined);
  });
  const t = (n: string) => `ardesia_guard_0000000${n}`;
  const cases: Array<[string, Parameters<typeof staleGuards>[0], string[]]> = [
    ['its owner dead, no QEMU of its folder', [{ table: t('1'), owner: O, ownerAlive: false, guarding: false }], [t('1')]],
    ['its owner alive', [{ table: t('1'), owner: O, ownerAlive: true, guarding: false }], []],
    ['its owner dead but its VMs outlive it', [{ table: t('1'), owner: O, ownerAlive: false, guarding: true }], []],
    ['no owner recorded (an older daemon\'s)', [{ table: t('1'), owner: undefined, ownerAlive: false, guarding: false }], []],
    ['this daemon\'s own, its owner a previous run', [{ table: t('0'), owner: O, ownerAlive: false, guarding: false }], []],
    ['several', [{ table: t('1'), owner: O, ownerAlive: false, guarding: false }, { table: t('2'), owner: O, ownerAlive: true, guarding: false }, { table: t('3'), owner: O, ownerAlive: false, guarding: false }], [t('1'), t('3')]],
  ];
  for (const [what, found, want] of cases) it(what, () => assert.deepEqual(staleGuards(found, t('0')), want));
});

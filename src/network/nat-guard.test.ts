import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { groupIdOf, natGuardRemoval, natGuardRuleset, natGuardTable, openNatNics, resolversOf, wantsHostAccess } from './nat-guard.js';
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

describe('natGuardTable', () => {
  it('is one stable name per data folder, the same however the folder is written', () => {
    assert.match(natGuardTable('/var/lib/ardesia'), /^ardesia_guard_[0-9a-f]{8}$/);
    assert.equal(natGuardTable('/var/lib/ardesia'), natGuardTable('/var/lib//ardesia/'));
    assert.notEqual(natGuardTable('/var/lib/ardesia'), natGuardTable('/srv/ardesia'));
  });
});

describe('natGuardRuleset', () => {
  it('replaces the table in one transaction and filters only the account, host group first, DNS before the local reject', () => {
    const text = natGuardRuleset({ table: T, uid: 995, hostGid: 994, resolvers: ['127.0.0.53', '::1'] });
    const lines = text.split('\n').map((l) => l.trim());
    assert.deepEqual(lines.slice(0, 3), [`add table inet ${T}`, `delete table inet ${T}`, `table inet ${T} {`]);
    const at = (rule: string) => {
      const i = lines.indexOf(rule);
      assert.ok(i >= 0, `missing: ${rule}\n${text}`);
      return i;
    };
    const own = at('meta skuid != 995 return');
    const newOnly = at('ct state != new return');
    const group = at('meta skgid 994 accept');
    const dns = at('ip daddr 127.0.0.53 udp dport 53 accept');
    at('ip daddr 127.0.0.53 tcp dport 53 accept');
    at('ip6 daddr ::1 udp dport 53 accept');
    const local = at('fib daddr type local meta l4proto tcp reject with tcp reset');
    at('fib daddr type local reject with icmpx admin-prohibited');
    at('ip daddr 127.0.0.0/8 reject with icmpx admin-prohibited');
    at('ip6 daddr ::1 reject with icmpx admin-prohibited');
    assert.ok(own < newOnly && newOnly < group && group < dns && dns < local);
    assert.match(text, /type filter hook output priority filter; policy accept;/);
  });
  it('has no accept for a host group that does not exist, nor DNS rules without resolvers', () => {
    const text = natGuardRuleset({ table: T, uid: 995, resolvers: [] });
    assert.doesNotMatch(text, /skgid|dport 53/);
  });
  it('refuses ids and resolvers that would change the rule text', () => {
    assert.throws(() => natGuardRuleset({ table: T, uid: -1, resolvers: [] }), RangeError);
    assert.throws(() => natGuardRuleset({ table: T, uid: 995, hostGid: 1.5, resolvers: [] }), RangeError);
    assert.throws(() => natGuardRuleset({ table: T, uid: 995, resolvers: ['1.2.3.4 accept; flush ruleset'] }), RangeError);
    assert.throws(() => natGuardRuleset({ table: 'filter', uid: 995, resolvers: [] }), RangeError);
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

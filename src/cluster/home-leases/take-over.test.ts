// leaseTakeOver: a migration's destination asks again while the source is giving the lease back, and only then.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SANLOCK_RV } from './layout.js';
import { leaseTakeOver, type SanlockClient } from './sanlock.js';

const res = { lockspace: 'ardesia', name: 'home0-alice', path: '/x/homes', offset: 0 };

/** A daemon answering acquires from a script (pure logic: the real daemon is in test/cluster). */
function scripted(rvs: number[], owned: boolean = false): SanlockClient & { asked: number } {
  const client = {
    asked: 0,
    acquire: async () => rvs[Math.min(client.asked++, rvs.length - 1)]!,
    inquire: async () => (owned ? [{ name: res.name, offset: res.offset }] : []),
  };
  return client as unknown as SanlockClient & { asked: number };
}

test('the lease is taken once the other side gave it back; held past the deadline, or refused otherwise, is the answer', async () => {
  const cases: Array<{ rvs: number[]; owned?: boolean; within: number; want: string | RegExp; asked: number | ((n: number) => boolean) }> = [
    { rvs: [0], within: 1000, want: 'acquired', asked: 1 },
    { rvs: [SANLOCK_RV.ACQUIRE_IDLIVE, SANLOCK_RV.ACQUIRE_IDLIVE, 0], within: 5000, want: 'acquired', asked: 3 },
    { rvs: [SANLOCK_RV.EEXIST], owned: true, within: 1000, want: 'own-already', asked: 1 },
    { rvs: [SANLOCK_RV.ACQUIRE_IDLIVE], within: 600, want: /HOME_LEASE_HELD/, asked: (n) => n >= 2 && n <= 4 },
    { rvs: [SANLOCK_RV.ECONNREFUSED, 0], within: 5000, want: /not running/, asked: 1 },
  ];
  for (const c of cases) {
    const client = scripted(c.rvs, c.owned);
    const got = await leaseTakeOver(client, 1234, res, 'alice', c.within).then(
      (v) => v,
      (err: Error) => err.message,
    );
    if (typeof c.want === 'string') assert.equal(got, c.want, JSON.stringify(c));
    else assert.match(got, c.want, JSON.stringify(c));
    if (typeof c.asked === 'number') assert.equal(client.asked, c.asked, JSON.stringify(c));
    else assert.ok(c.asked(client.asked), `${client.asked} asks: ${JSON.stringify(c)}`);
  }
});

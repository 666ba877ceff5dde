import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LiveConnections } from './live-connections.js';

test('closing a user spares the kept credential and other principals', () => {
  const live = new LiveConnections();
  const closed: string[] = [];
  live.add({ name: 'jdoe', session: 's1' }, () => closed.push('s1'));
  live.add({ name: 'jdoe', session: 's2' }, () => closed.push('s2'));
  live.add({ name: 'jdoe', tokenId: 't1' }, () => closed.push('t1'));
  live.add({ name: 'unix:jdoe', tokenId: 'f1' }, () => closed.push('unix'));
  assert.equal(live.closeOf('jdoe', 'password changed', { session: 's1' }), 2);
  assert.deepEqual(closed.sort(), ['s2', 't1']);
  assert.equal(live.closeOf('jdoe', 'deleted'), 1);
  assert.equal(live.count(), 1, 'the unix account of the same name is another principal');
});

test('a revoked token closes only its own connections; unregister removes', () => {
  const live = new LiveConnections();
  let n = 0;
  const off = live.add({ name: 'a', tokenId: 't' }, () => n++);
  live.add({ name: 'a', tokenId: 'u' }, () => n++);
  assert.equal(live.closeOfToken('t', 'revoked'), 1);
  off();
  assert.equal(live.count(), 1);
  assert.equal(n, 1);
});

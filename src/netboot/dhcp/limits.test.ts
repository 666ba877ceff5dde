import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DHCP_NEW_CLIENTS, DHCP_PER_MAC, DHCP_UNKNOWN_OVERALL, DhcpGuard } from './limits.js';

const mac = (i: number) => `52:54:00:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;

test('one MAC gets its burst, then one packet per refill period', () => {
  const g = new DhcpGuard();
  const verdicts = Array.from({ length: DHCP_PER_MAC.burst + 5 }, () => g.admit(mac(1), true, 0));
  assert.equal(verdicts.filter((v) => v === 'ok').length, DHCP_PER_MAC.burst);
  assert.equal(verdicts.at(-1), 'mac-limited');
  assert.equal(g.admit(mac(1), true, DHCP_PER_MAC.refillMs), 'ok');
  assert.equal(g.admit(mac(2), true, 0), 'ok', 'another MAC is not held back by the first');
});

test('made-up MACs share one overall budget; known clients are outside it', () => {
  const g = new DhcpGuard();
  let ok = 0;
  for (let i = 0; i < DHCP_UNKNOWN_OVERALL.burst * 3; i++) if (g.admit(mac(1000 + i), false, 0) === 'ok') ok++;
  assert.equal(ok, DHCP_UNKNOWN_OVERALL.burst);
  assert.equal(g.admit(mac(99_999), false, 0), 'overall-limited');
  assert.equal(g.admit(mac(7), true, 0), 'ok', 'a client with a lease record still gets through');
});

test('first leases come from a budget that refills slowly', () => {
  const g = new DhcpGuard();
  let taken = 0;
  while (g.takeNewClient(0)) taken++;
  assert.equal(taken, DHCP_NEW_CLIENTS.burst);
  assert.equal(g.takeNewClient(DHCP_NEW_CLIENTS.refillMs - 1), false);
  assert.equal(g.takeNewClient(DHCP_NEW_CLIENTS.refillMs), true);
});

// Table tests of display tickets: single use, expiry, binding to user and browser session, bounds.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ArdesiaError, type ErrorCode } from '../contract/errors.js';
import { DisplayTickets, TICKET_TTL_MS, type TicketHolder } from './tickets.js';

function store(opts: { maxOpen?: number; maxPerUser?: number } = {}) {
  let t = 1_000_000;
  let n = 0;
  const tickets = new DisplayTickets({ now: () => t, newTicket: () => `t${++n}`, ...opts });
  return { tickets, advance: (ms: number) => (t += ms), now: () => t };
}

function codeOf(fn: () => unknown): ErrorCode | 'ok' {
  try {
    fn();
    return 'ok';
  } catch (err) {
    assert.ok(err instanceof ArdesiaError, String(err));
    return err.code;
  }
}

const alice: TicketHolder = { name: 'alice', session: 's-alice-1' };
const aliceOtherTab: TicketHolder = { name: 'alice', session: 's-alice-2' };
const aliceToken: TicketHolder = { name: 'alice' };
const bob: TicketHolder = { name: 'bob', session: 's-bob-1' };

describe('redeeming a ticket', () => {
  const cases: Array<{ what: string; issuedTo: TicketHolder; shownBy: TicketHolder | undefined; after: number; expect: ErrorCode | 'ok' }> = [
    { what: 'the same user and session, at once', issuedTo: alice, shownBy: alice, after: 0, expect: 'ok' },
    { what: 'just before expiry', issuedTo: alice, shownBy: alice, after: TICKET_TTL_MS - 1, expect: 'ok' },
    { what: 'at expiry', issuedTo: alice, shownBy: alice, after: TICKET_TTL_MS, expect: 'DISPLAY_TICKET_EXPIRED' },
    { what: 'another user', issuedTo: alice, shownBy: bob, after: 0, expect: 'DISPLAY_TICKET_NOT_YOURS' },
    { what: 'another session of the same user', issuedTo: alice, shownBy: aliceOtherTab, after: 0, expect: 'DISPLAY_TICKET_NOT_YOURS' },
    { what: 'the same user by token (no session)', issuedTo: alice, shownBy: aliceToken, after: 0, expect: 'DISPLAY_TICKET_NOT_YOURS' },
    { what: 'a token principal, by the same token principal', issuedTo: aliceToken, shownBy: aliceToken, after: 0, expect: 'ok' },
    { what: 'a token principal’s ticket, by a browser session', issuedTo: aliceToken, shownBy: alice, after: 0, expect: 'DISPLAY_TICKET_NOT_YOURS' },
    { what: 'nobody logged in', issuedTo: alice, shownBy: undefined, after: 0, expect: 'DISPLAY_TICKET_NOT_YOURS' },
  ];
  for (const c of cases) {
    it(`${c.what}: ${c.expect}`, () => {
      const { tickets, advance } = store();
      const { ticket } = tickets.issue(c.issuedTo, 'desk1');
      advance(c.after);
      assert.equal(codeOf(() => tickets.redeem(ticket, c.shownBy)), c.expect);
    });
  }

  it('returns the desktop the ticket was issued for', () => {
    const { tickets } = store();
    const { ticket } = tickets.issue(alice, 'desk7');
    assert.deepEqual(tickets.redeem(ticket, alice), { desktop: 'desk7' });
  });

  it('a second use is refused as used, and after expiry as unknown', () => {
    const { tickets, advance } = store();
    const { ticket } = tickets.issue(alice, 'desk1');
    assert.equal(codeOf(() => tickets.redeem(ticket, alice)), 'ok');
    assert.equal(codeOf(() => tickets.redeem(ticket, alice)), 'DISPLAY_TICKET_USED');
    advance(TICKET_TTL_MS);
    tickets.sweep();
    assert.equal(codeOf(() => tickets.redeem(ticket, alice)), 'DISPLAY_TICKET_UNKNOWN');
  });

  it('a ticket shown by the wrong user is spent: the owner cannot use it afterwards', () => {
    const { tickets } = store();
    const { ticket } = tickets.issue(alice, 'desk1');
    assert.equal(codeOf(() => tickets.redeem(ticket, bob)), 'DISPLAY_TICKET_NOT_YOURS');
    assert.equal(codeOf(() => tickets.redeem(ticket, alice)), 'DISPLAY_TICKET_USED');
  });

  it('an invented ticket is unknown', () => {
    const { tickets } = store();
    tickets.issue(alice, 'desk1');
    assert.equal(codeOf(() => tickets.redeem('t999', alice)), 'DISPLAY_TICKET_UNKNOWN');
  });
});

describe('the store stays bounded', () => {
  it('expires after at most 30 s and sweeps the expired', () => {
    const { tickets, advance, now } = store();
    const { expiresAt } = tickets.issue(alice, 'desk1');
    assert.equal(expiresAt, now() + TICKET_TTL_MS);
    tickets.issue(bob, 'desk2');
    assert.equal(tickets.size, 2);
    advance(TICKET_TTL_MS);
    assert.equal(tickets.size, 0);
  });

  it('refuses a ticket beyond the global bound until old ones expire', () => {
    const { tickets, advance } = store({ maxOpen: 3 });
    for (const name of ['a', 'b', 'c']) tickets.issue({ name }, 'd');
    assert.equal(codeOf(() => tickets.issue({ name: 'e' }, 'd')), 'DISPLAY_TICKETS_EXHAUSTED');
    advance(TICKET_TTL_MS);
    assert.equal(codeOf(() => tickets.issue({ name: 'e' }, 'd')), 'ok');
  });

  it('one user cannot take more than its share; others still can', () => {
    const { tickets } = store({ maxPerUser: 2 });
    tickets.issue(alice, 'd');
    tickets.issue(alice, 'd');
    assert.equal(codeOf(() => tickets.issue(alice, 'd')), 'DISPLAY_TICKETS_EXHAUSTED');
    assert.equal(codeOf(() => tickets.issue(bob, 'd')), 'ok');
  });

  it('used tickets still count until they expire, then free their share', () => {
    const { tickets, advance } = store({ maxPerUser: 1 });
    const { ticket } = tickets.issue(alice, 'd');
    tickets.redeem(ticket, alice);
    assert.equal(codeOf(() => tickets.issue(alice, 'd')), 'DISPLAY_TICKETS_EXHAUSTED');
    advance(TICKET_TTL_MS);
    assert.equal(codeOf(() => tickets.issue(alice, 'd')), 'ok');
  });

  it('a longer TTL than 30 s is capped', () => {
    let t = 0;
    const tickets = new DisplayTickets({ now: () => t, ttlMs: 3_600_000 });
    assert.equal(tickets.issue(alice, 'd').expiresAt, TICKET_TTL_MS);
    t = TICKET_TTL_MS;
    assert.equal(tickets.size, 0);
  });

  it('real tickets are long random strings', () => {
    const tickets = new DisplayTickets();
    const a = tickets.issue(alice, 'd').ticket;
    const b = tickets.issue(alice, 'd').ticket;
    assert.notEqual(a, b);
    assert.match(a, /^[A-Za-z0-9_-]{32}$/);
  });
});

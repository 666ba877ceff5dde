// Display tickets: random, single use, short-lived, bound to who asked (user and browser session)
// and to one desktop. Pure and in memory: the clock and the random source are injected.
import { randomBytes } from 'node:crypto';
import { ArdesiaError } from '../contract/errors.js';

/** How long a ticket may wait for its WebSocket. */
export const TICKET_TTL_MS = 30_000;
/** Tickets (unused, or used and remembered until they expire) held at most; beyond, new ones are refused. */
export const MAX_OPEN_TICKETS = 4096;
/** One principal cannot fill the store on its own. */
export const MAX_TICKETS_PER_USER = 64;
const TICKET_BYTES = 24;

/** Who a ticket is bound to: the user, and the browser session when the principal came from a cookie. */
export interface TicketHolder {
  name: string;
  session?: string;
}

export interface IssuedTicket {
  ticket: string;
  /** Milliseconds since the epoch (the injected clock's). */
  expiresAt: number;
}

interface TicketEntry {
  user: string;
  session: string | undefined;
  desktop: string;
  expiresAt: number;
  /** Kept after use until it expires, so that a replay is told "already used", not "unknown". */
  used: boolean;
}

export interface DisplayTicketsOptions {
  now?: () => number;
  ttlMs?: number;
  maxOpen?: number;
  maxPerUser?: number;
  newTicket?: () => string;
}

export class DisplayTickets {
  // Insertion order is expiry order (one TTL for all), so the expired ones are always at the front.
  private readonly entries = new Map<string, TicketEntry>();
  private readonly perUser = new Map<string, number>();
  private readonly now: () => number;
  private readonly ttlMs: number;
  private readonly maxOpen: number;
  private readonly maxPerUser: number;
  private readonly newTicket: () => string;

  constructor(opts: DisplayTicketsOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.ttlMs = Math.min(opts.ttlMs ?? TICKET_TTL_MS, TICKET_TTL_MS);
    this.maxOpen = opts.maxOpen ?? MAX_OPEN_TICKETS;
    this.maxPerUser = opts.maxPerUser ?? MAX_TICKETS_PER_USER;
    this.newTicket = opts.newTicket ?? (() => randomBytes(TICKET_BYTES).toString('base64url'));
  }

  /** Tickets held (unused and remembered used ones), after dropping the expired. */
  get size(): number {
    this.sweep();
    return this.entries.size;
  }

  issue(holder: TicketHolder, desktop: string): IssuedTicket {
    this.sweep();
    if (this.entries.size >= this.maxOpen) throw new ArdesiaError('DISPLAY_TICKETS_EXHAUSTED', `${this.entries.size} display tickets are waiting; none can be added now`);
    if ((this.perUser.get(holder.name) ?? 0) >= this.maxPerUser) {
      throw new ArdesiaError('DISPLAY_TICKETS_EXHAUSTED', `${holder.name} holds ${this.maxPerUser} display tickets already; use or let them expire first`);
    }
    const ticket = this.newTicket();
    if (this.entries.has(ticket)) throw new ArdesiaError('INTERNAL', 'the ticket source repeated itself');
    const expiresAt = this.now() + this.ttlMs;
    this.entries.set(ticket, { user: holder.name, session: holder.session, desktop, expiresAt, used: false });
    this.perUser.set(holder.name, (this.perUser.get(holder.name) ?? 0) + 1);
    return { ticket, expiresAt };
  }

  /** Spends the ticket and returns its desktop; a ticket shown by someone else is spent too (it leaked). */
  redeem(ticket: string, holder: TicketHolder | undefined): { desktop: string } {
    const entry = this.entries.get(ticket);
    if (!entry) throw new ArdesiaError('DISPLAY_TICKET_UNKNOWN', 'this display ticket is unknown (never issued, or expired and forgotten)');
    if (this.now() >= entry.expiresAt) {
      this.forget(ticket, entry);
      throw new ArdesiaError('DISPLAY_TICKET_EXPIRED', `this display ticket expired ${Math.round((this.now() - entry.expiresAt) / 1000)} s ago`);
    }
    if (entry.used) throw new ArdesiaError('DISPLAY_TICKET_USED', 'this display ticket was used already');
    entry.used = true;
    if (holder?.name !== entry.user) {
      throw new ArdesiaError('DISPLAY_TICKET_NOT_YOURS', `this display ticket belongs to another user than ${holder?.name ?? 'an anonymous client'}`);
    }
    if (holder.session !== entry.session) {
      throw new ArdesiaError('DISPLAY_TICKET_NOT_YOURS', 'this display ticket belongs to another session of your account (another browser or tab login)');
    }
    return { desktop: entry.desktop };
  }

  /** Drops expired tickets; returns how many. Runs on every issue, so the store never outgrows its bound. */
  sweep(): number {
    const now = this.now();
    let dropped = 0;
    for (const [ticket, entry] of this.entries) {
      if (entry.expiresAt > now) break;
      this.forget(ticket, entry);
      dropped++;
    }
    return dropped;
  }

  private forget(ticket: string, entry: TicketEntry): void {
    this.entries.delete(ticket);
    const left = (this.perUser.get(entry.user) ?? 1) - 1;
    if (left > 0) this.perUser.set(entry.user, left);
    else this.perUser.delete(entry.user);
  }
}

// One ticket store per display-access object: the ticket route and the WebSocket route share it
// through the AppContext they both receive, without another field on it.
const storesByOwner = new WeakMap<object, DisplayTickets>();

export function displayTicketsOf(owner: object): DisplayTickets {
  let tickets = storesByOwner.get(owner);
  if (!tickets) {
    tickets = new DisplayTickets();
    storesByOwner.set(owner, tickets);
  }
  return tickets;
}

/** Tests: a store with an injected clock for this owner. */
export function useDisplayTickets(owner: object, tickets: DisplayTickets): void {
  storesByOwner.set(owner, tickets);
}

// How much a guest may make the host do and log: a token bucket per desktop. Pure, clock injected. A real guest
// helper sends a handful of messages per session; a guest that floods the channel only loses its own messages.

export interface GuestBudgetPolicy {
  /** Messages accepted in a burst. */
  burst: number;
  /** Tokens back per second. */
  perSecond: number;
}

export const GUEST_MESSAGE_BUDGET: GuestBudgetPolicy = { burst: 50, perSecond: 1 };
/** A guest-supplied text logged is cut to this many characters. */
export const GUEST_TEXT_LOGGED_MAX = 300;

export class GuestBudget {
  private tokens: number;
  private at: number;
  /** Messages refused since the last one accepted (reported once, then reset). */
  private refused = 0;

  constructor(
    private readonly policy: GuestBudgetPolicy = GUEST_MESSAGE_BUDGET,
    nowMs = 0,
  ) {
    this.tokens = policy.burst;
    this.at = nowMs;
  }

  /** Accepts one message (and says how many were refused before it), or refuses it. */
  take(nowMs: number): { accepted: true; refusedBefore: number } | { accepted: false; firstRefused: boolean } {
    this.tokens = Math.min(this.policy.burst, this.tokens + ((nowMs - this.at) / 1000) * this.policy.perSecond);
    this.at = nowMs;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      const refusedBefore = this.refused;
      this.refused = 0;
      return { accepted: true, refusedBefore };
    }
    this.refused++;
    return { accepted: false, firstRefused: this.refused === 1 };
  }
}

/** A guest's text for a log line: bounded, one line. */
export function guestTextForLog(text: string): string {
  const one = text.replace(/[\r\n]+/g, ' ');
  return one.length > GUEST_TEXT_LOGGED_MAX ? `${one.slice(0, GUEST_TEXT_LOGGED_MAX)}… (${one.length} characters)` : one;
}

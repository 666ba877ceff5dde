// The long-lived connections of each principal (display, console, live events): when a credential ends
// (disabled, deleted, password changed, token revoked) its connections are closed at once, not at their next request.
import type { Principal } from '../contract/users.js';

/** Which credentials to spare when a user's are revoked: the session or token that made the change. */
export interface CredentialKeep {
  session?: string;
  tokenId?: string;
}

interface Entry {
  who: Pick<Principal, 'name' | 'session' | 'tokenId'>;
  close: (reason: string) => void;
}

export class LiveConnections {
  private readonly entries = new Set<Entry>();

  /** Registers a connection opened by `who`; returns its unregister. */
  add(who: Pick<Principal, 'name' | 'session' | 'tokenId'>, close: (reason: string) => void): () => void {
    const entry: Entry = { who: { name: who.name, session: who.session, tokenId: who.tokenId }, close };
    this.entries.add(entry);
    return () => void this.entries.delete(entry);
  }

  /** Closes every connection of this principal name except those of the kept credential; returns how many. */
  closeOf(name: string, reason: string, keep: CredentialKeep = {}): number {
    return this.closeWhere((w) => w.name === name && !(keep.session !== undefined && w.session === keep.session) && !(keep.tokenId !== undefined && w.tokenId === keep.tokenId), reason);
  }

  /** Closes the connections opened with one token (revoked by its id). */
  closeOfToken(tokenId: string, reason: string): number {
    return this.closeWhere((w) => w.tokenId === tokenId, reason);
  }

  count(): number {
    return this.entries.size;
  }

  private closeWhere(match: (who: Entry['who']) => boolean, reason: string): number {
    let closed = 0;
    for (const entry of [...this.entries]) {
      if (!match(entry.who)) continue;
      this.entries.delete(entry);
      closed++;
      try {
        entry.close(reason);
      } catch {
        // already gone
      }
    }
    return closed;
  }
}

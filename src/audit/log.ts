// Writing the audit log, and the feed of appended entries the live-update stream (GET /v1/events) follows.
import { EventEmitter } from 'node:events';
import { now } from '../lib/time.js';
import type { Store } from '../store/db.js';

/** One audited change, as the feed announces it. */
export interface AuditAppended {
  action: string;
  target: string;
  principal: string;
  at: string;
}

/** Every audited change, as it is recorded: the live-update stream (GET /v1/events) follows it. */
export const auditFeed = new EventEmitter<{ appended: [AuditAppended] }>();

export async function auditAppend(db: Store, principal: string, action: string, target: string, detail?: unknown, address?: string): Promise<void> {
  const at = now();
  await db
    .insertInto('audit')
    .values({ at, principal, action, target, detail: detail === undefined ? null : JSON.stringify(detail), address: address ?? null })
    .execute();
  auditFeed.emit('appended', { action, target, principal, at });
}

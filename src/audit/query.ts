// Reading the audit log (newest first, filtered); writing is auditAppend in ./log.ts.
import type { AuditEntry, AuditQuery } from '../contract/users.js';
import type { Store } from '../store/db.js';

export async function auditQuery(db: Store, q: AuditQuery): Promise<AuditEntry[]> {
  let query = db.selectFrom('audit').selectAll().orderBy('id', 'desc').limit(q.limit);
  if (q.before !== undefined) query = query.where('id', '<', q.before);
  if (q.action !== undefined) query = query.where('action', '=', q.action);
  if (q.principal !== undefined) query = query.where('principal', '=', q.principal);
  const rows = await query.execute();
  return rows.map((r) => ({ ...r, detail: r.detail === null ? null : (JSON.parse(r.detail) as unknown) }));
}

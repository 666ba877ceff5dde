// The database's own clock as the ISO text the hosts table stores: with several processes on several hosts, one
// clock judges heartbeats and expiries (the controller's or an agent's may drift).
import { sql, type RawBuilder } from 'kysely';
import { dialectOf } from '../store/dialect.js';
import type { Store } from '../store/db.js';

export function dbNowIso(db: Store): RawBuilder<string> {
  return dialectOf(db) === 'postgres'
    ? sql<string>`to_char(clock_timestamp() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`
    : sql<string>`strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`;
}

export async function dbNow(db: Store): Promise<string> {
  const row = await sql<{ now: string }>`select ${dbNowIso(db)} as now`.execute(db);
  return row.rows[0]!.now;
}

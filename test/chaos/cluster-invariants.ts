// What the cluster trial checks on each home once everyone is logged off, from what the guests wrote: every session's
// writer appended "SID N" lines (N = 1, 2, …, each synced) to one file in its user's home. Two desktops writing one
// home at once shows as interleaved sessions (or a corrupt file system); a lost or rolled-back home as missing lines.
export interface TrialSession {
  sid: string;
  user: string;
  /** Lines the session's own guest counted in the file (a probe before its logoff or its host's fault), if any. */
  seenLines?: number;
}

export interface HomeViolation {
  user: string;
  kind: 'two-writers' | 'rewind' | 'lost-writes' | 'unknown-writer' | 'garbage' | 'file-system';
  detail: string;
}

const LINE = /^(\S+) (\d+)$/;

/** Pure: the violations in one home's log file. */
export function homeLogViolations(user: string, log: string, sessions: readonly TrialSession[]): HomeViolation[] {
  const out: HomeViolation[] = [];
  const known = new Map(sessions.filter((s) => s.user === user).map((s) => [s.sid, s]));
  const blocks: string[] = [];
  const last = new Map<string, number>();
  const lines = log.split('\n');
  if (lines.at(-1) === '') lines.pop();
  lines.forEach((line, i) => {
    const m = LINE.exec(line);
    if (!m) {
      // A power loss may cut the last line short; anything else is damage.
      if (i !== lines.length - 1) out.push({ user, kind: 'garbage', detail: `line ${i + 1}: ${JSON.stringify(line.slice(0, 60))}` });
      return;
    }
    const [, sid, nText] = m as unknown as [string, string, string];
    const n = Number(nText);
    if (!known.has(sid)) out.push({ user, kind: 'unknown-writer', detail: `line ${i + 1}: session ${sid} was never started for ${user}` });
    if (blocks.at(-1) !== sid) {
      if (blocks.includes(sid)) out.push({ user, kind: 'two-writers', detail: `session ${sid} wrote again at line ${i + 1} after session ${blocks.at(-1)}: two desktops had the home at once` });
      blocks.push(sid);
    }
    const before = last.get(sid) ?? 0;
    if (n !== before + 1) out.push({ user, kind: 'rewind', detail: `session ${sid}: line ${n} follows ${before} at line ${i + 1}` });
    last.set(sid, n);
  });
  for (const s of known.values()) {
    // The probe may count a line whose sync was still under way when the power went.
    if (s.seenLines !== undefined && (last.get(s.sid) ?? 0) < s.seenLines - 1) {
      out.push({ user, kind: 'lost-writes', detail: `session ${s.sid}: its guest counted ${s.seenLines} lines, the home has ${last.get(s.sid) ?? 0}` });
    }
  }
  return out;
}

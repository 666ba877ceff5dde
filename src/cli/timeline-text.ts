// `ardesia session timeline`: a login timeline as text (pure), one row per stage.
import type { TimelineView } from '../contract/timeline.js';
import { table } from './output.js';
import { terminalSafeLine } from './terminal-safe.js';

export function timelineText(t: TimelineView): string {
  const head = `login of ${terminalSafeLine(t.user)} on ${terminalSafeLine(t.desktop)} (pool ${terminalSafeLine(t.pool)}) at ${t.startedAt}: ${t.complete ? `${(t.totalMs! / 1000).toFixed(2)} s to the first frame` : 'no first frame yet'}`;
  const rows = t.stages.map((s) => [s.stage, s.skipped ? 'skipped' : `+${(s.ms / 1000).toFixed(2)} s`, s.at, s.detail ? terminalSafeLine(s.detail) : '']);
  return `${head}\n${table(['STAGE', 'TOOK', 'AT', 'DETAIL'], rows)}`;
}

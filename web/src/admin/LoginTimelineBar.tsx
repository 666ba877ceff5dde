// A session's latest login timeline as one bar: a segment per stage that took time (hover for its name and
// duration), skipped stages left out, the total from the request to the first frame beside it.
import type { TimelineStageView, TimelineView } from '../../../src/contract/timeline';
import { sessionTimeline } from '../lib/api';
import { useLive } from '../lib/events';

const COLOURS: Record<TimelineStageView['stage'], string> = {
  request: '#999',
  authentication: '#8c6bb1',
  broker: '#6a51a3',
  spare: '#e6550d',
  'home-attached': '#3182bd',
  'home-mounted': '#6baed6',
  'session-started': '#31a354',
  'first-frame': '#fdae6b',
};
const WIDTH = 180;

const seconds = (ms: number) => `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;

function stageLabel(s: TimelineStageView): string {
  return `${s.stage}${s.detail && s.stage === 'spare' ? ` (${s.detail})` : ''}: ${seconds(s.ms)}`;
}

export function TimelineBar({ timeline }: { timeline: TimelineView }) {
  const shown = timeline.stages.filter((s) => !s.skipped && s.ms > 0);
  const span = shown.reduce((sum, s) => sum + s.ms, 0) || 1;
  let x = 0;
  const summary = timeline.complete ? seconds(timeline.totalMs ?? 0) : `waiting (${timeline.stages.at(-1)?.stage ?? 'request'})`;
  return (
    <span className="timeline-bar" data-testid={`timeline-${timeline.desktop}`} data-complete={timeline.complete} title={timeline.stages.map((s) => (s.skipped ? `${s.stage}: skipped` : stageLabel(s))).join('\n')}>
      <svg width={WIDTH} height={12} role="img" aria-label={`login timeline of ${timeline.user}: ${summary}`}>
        {shown.map((s) => {
          const w = (s.ms / span) * WIDTH;
          const rect = <rect key={s.stage} data-stage={s.stage} x={x} y={0} width={Math.max(w, 1)} height={12} fill={COLOURS[s.stage]}><title>{stageLabel(s)}</title></rect>;
          x += w;
          return rect;
        })}
      </svg>{' '}
      <span>{summary}</span>
    </span>
  );
}

/** The latest login of a desktop, live: reloaded on session events (the first frame sends one). */
export function LoginTimelineCell({ desktop }: { desktop: string }) {
  const loaded = useLive(() => sessionTimeline(desktop, 1), ['session'], [desktop]);
  const latest = loaded.data?.[0];
  return latest ? <TimelineBar timeline={latest} /> : <span>—</span>;
}

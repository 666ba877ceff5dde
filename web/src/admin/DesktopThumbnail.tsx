// A small live picture of a desktop's screen (QMP screendump through GET /v1/vms/:name/screendump, admin only),
// refreshed while the page is visible; a placeholder when the VM is not running.
import { useEffect, useState } from 'react';
import type { DesktopState } from '../lib/types';

export const THUMBNAIL_REFRESH_MS = 10_000;
const THUMBNAIL_WIDTH_PX = 160;
const THUMBNAIL_HEIGHT_PX = 100;

/** States in which the desktop's VM is certainly up (booting may not have a QEMU yet; logging off may lose it). */
const SCREEN_STATES: ReadonlySet<DesktopState> = new Set<DesktopState>(['ready', 'assigned', 'in-use', 'disconnected']);
export const hasScreen = (s: DesktopState): boolean => SCREEN_STATES.has(s);

/** Bumps every THUMBNAIL_REFRESH_MS while the tab is visible, and at once when it becomes visible again. */
function useVisibleTick(): number {
  const [tick, setTick] = useState(() => Date.now());
  useEffect(() => {
    const refresh = () => {
      if (document.visibilityState === 'visible') setTick(Date.now());
    };
    const timer = window.setInterval(refresh, THUMBNAIL_REFRESH_MS);
    document.addEventListener('visibilitychange', refresh);
    return () => {
      window.clearInterval(timer);
      document.removeEventListener('visibilitychange', refresh);
    };
  }, []);
  return tick;
}

export function DesktopThumbnail(props: { vm: string; state: DesktopState }) {
  const tick = useVisibleTick();
  const [failedAt, setFailedAt] = useState<number>();
  if (!hasScreen(props.state) || failedAt === tick) {
    return (
      <span className="thumbnail thumbnail-off" role="img" aria-label={`${props.vm}: no screen (${props.state})`}>
        {hasScreen(props.state) ? 'no picture' : 'off'}
      </span>
    );
  }
  return (
    <img
      className="thumbnail"
      src={`/v1/vms/${encodeURIComponent(props.vm)}/screendump?at=${tick}`}
      alt={`Screen of ${props.vm}`}
      width={THUMBNAIL_WIDTH_PX}
      height={THUMBNAIL_HEIGHT_PX}
      onError={() => setFailedAt(tick)}
      data-testid={`thumbnail-${props.vm}`}
    />
  );
}

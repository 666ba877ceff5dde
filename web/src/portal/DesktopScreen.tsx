// The open desktop: the display with its toolbar (full screen, Ctrl+Alt+Del, paste, scaling) and the
// session's actions (log off, reset where the pool allows it, leave it running).
import type RFB from '@novnc/novnc';
import { useCallback, useRef, useState } from 'react';
import { sessionLogoff, sessionReset } from '../lib/api';
import { ActionButton, useNotify } from '../lib/ui';
import { VncView, type DisplayStatus } from '../lib/VncView';

function statusText(s: DisplayStatus): string {
  switch (s.kind) {
    case 'connecting':
      return 'Connecting…';
    case 'connected':
      return 'Connected';
    case 'reconnecting':
      return `Connection lost (${s.reason}); reconnecting, attempt ${s.attempt}…`;
    case 'ended':
      return `Disconnected: ${s.reason}`;
  }
}

export function DesktopScreen(props: { pool: string; desktop: string; mayReset: boolean; kiosk: boolean; thinClient?: string | undefined; onLeave: () => void; onLoggedOff: () => void }) {
  const notify = useNotify();
  const [status, setStatus] = useState<DisplayStatus>({ kind: 'connecting' });
  const [rfb, setRfb] = useState<RFB>();
  const [scale, setScale] = useState(true);
  const [clip, setClip] = useState('');
  const frameRef = useRef<HTMLDivElement>(null);
  const onStatus = useCallback((s: DisplayStatus) => {
    setStatus(s);
    // A kiosk's browser writes console messages to its log, and the thin client reports them on its console.
    if (props.kiosk) console.info(`ardesia-display ${props.desktop} ${s.kind}`);
  }, [props.kiosk, props.desktop]);
  const onRfb = useCallback((r: RFB | undefined) => setRfb(r), []);
  const notConnected = rfb ? false : 'the display is not connected';

  return (
    <div className="desktop-frame" ref={frameRef}>
      <div className="toolbar" role="toolbar" aria-label="Desktop controls">
        <span className={`display-status status-${status.kind}`} role="status" aria-live="polite" data-status={status.kind}>
          {props.desktop}: {statusText(status)}
        </span>
        <button type="button" className="btn" onClick={() => void frameRef.current?.requestFullscreen().catch((err: unknown) => notify.error(err, 'Full screen'))}>
          Full screen
        </button>
        <button type="button" className="btn" disabled={!!notConnected} title={notConnected || undefined} onClick={() => rfb?.sendCtrlAltDel()}>
          Ctrl+Alt+Del
        </button>
        <label className="inline">
          <input type="checkbox" checked={scale} onChange={(e) => setScale(e.target.checked)} /> Scale to window
        </label>
        <form
          className="paste"
          onSubmit={(e) => {
            e.preventDefault();
            rfb?.clipboardPasteFrom(clip);
            notify.info('Text sent to the desktop clipboard');
          }}
        >
          <label className="inline">
            <span className="sr-only">Text to paste into the desktop</span>
            <input type="text" value={clip} placeholder="Text to paste" onChange={(e) => setClip(e.target.value)} />
          </label>
          <button type="submit" className="btn" disabled={!!notConnected || clip === ''}>
            Paste
          </button>
        </form>
        <span className="spacer" />
        {!props.kiosk && (
          <button type="button" className="btn" onClick={props.onLeave}>
            Leave running
          </button>
        )}
        {props.mayReset && (
          <ActionButton
            label="Reset"
            kind="danger"
            confirm="Reset the desktop? Unsaved work outside your home folder is lost."
            action={async () => {
              await sessionReset(props.desktop);
              props.onLoggedOff();
            }}
          />
        )}
        <ActionButton
          label="Log off"
          kind="primary"
          action={async () => {
            await sessionLogoff(props.desktop);
            props.onLoggedOff();
          }}
        />
      </div>
      <VncView desktop={props.desktop} thinClient={props.thinClient} scale={scale} onStatus={onStatus} onRfb={onRfb} label={`Desktop ${props.desktop}`} />
    </div>
  );
}

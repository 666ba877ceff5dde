// The open desktop: the display with its toolbar (full screen, Ctrl+Alt+Del, paste, scaling) and the
// session's actions (log off, reset where the pool allows it, leave it running). A display the daemon ended
// on purpose (administrator, idle, logoff) becomes a screen that says which, with Reconnect for a person.
import type RFB from '@novnc/novnc';
import { useCallback, useEffect, useRef, useState } from 'react';
import type { DisplayEnd } from '../../../src/contract/display';
import { ERROR_REGISTRY } from '../../../src/contract/errors';
import { ApiError, sessionList, sessionLogoff, sessionReset } from '../lib/api';
import { useLive } from '../lib/events';
import { ActionButton, useNotify } from '../lib/ui';
import { VncView, type DisplayStatus } from '../lib/VncView';

const END_TEXT: Record<DisplayEnd, string> = {
  'admin-disconnect': 'An administrator disconnected this session. Your desktop is still running.',
  idle: 'Disconnected after a time without input. Your desktop is still running.',
  'logged-off': 'Your session was logged off.',
  'host-lost': "Your desktop's server stopped. Opening a new desktop with your files…",
};

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
    case 'closed':
      return s.end === 'logged-off' ? 'Logged off' : 'Disconnected';
  }
}

/** How long a paste waits for the session's clipboard agent (it starts with the session, minutes under TCG). */
export const PASTE_WAIT_MS = 3 * 60_000;

/** A paste made before the desktop could take it: delivered once the display is connected and the agent is up. */
interface HeldPaste {
  text: string;
  at: number;
}

function pasteNotReady(): ApiError {
  const code = 'CLIPBOARD_NOT_READY';
  return new ApiError(code, `the desktop's clipboard did not get ready in ${PASTE_WAIT_MS / 60_000} minutes; the text was not pasted`, ERROR_REGISTRY[code].hint, ERROR_REGISTRY[code].status);
}

/** The view ended by the daemon: which ending, and the way on (a click). */
function EndedScreen(props: { end: DisplayEnd; onReconnect: () => void; onLeave: () => void }) {
  return (
    <div className="display-ended" role="alert" data-end={props.end}>
      <p>{END_TEXT[props.end]}</p>
      {props.end === 'host-lost' ? null : props.end === 'logged-off' ? (
        <button type="button" className="btn btn-primary" onClick={props.onLeave}>
          Back to your desktops
        </button>
      ) : (
        <button type="button" className="btn btn-primary" onClick={props.onReconnect}>
          Reconnect
        </button>
      )}
    </div>
  );
}

export function DesktopScreen(props: {
  pool: string;
  desktop: string;
  mayReset: boolean;
  kiosk: boolean;
  thinClient?: string | undefined;
  onLeave: () => void;
  onLoggedOff: () => void;
  /** The desktop's server stopped: the parent opens a new desktop of the pool (its home follows). */
  onHostLost: () => void;
  /** This desktop was opened because the previous one's server stopped. */
  afterHostLoss?: boolean;
}) {
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
  const [attempt, setAttempt] = useState(0);
  // After an idle disconnect the session may be logged off while nobody looks: follow it, so the screen says so
  // (and a kiosk goes back to its login page).
  const sessions = useLive(sessionList, ['session', 'desktop']);
  const closed = status.kind === 'closed' ? status.end : undefined;
  const session = sessions.data?.find((s) => s.desktop === props.desktop);
  const sessionGone = sessions.data !== undefined && (session === undefined || session.state === 'logging-off');
  const end: DisplayEnd | undefined = closed && closed !== 'host-lost' && sessionGone ? 'logged-off' : closed;
  // A paste goes to the desktop only once its clipboard agent is up (before, the guest drops it): held until then.
  const [heldPaste, setHeldPaste] = useState<HeldPaste>();
  const clipboardReady = session?.clipboardReady === true;
  const connected = status.kind === 'connected' && rfb !== undefined;
  useEffect(() => {
    if (!heldPaste) return;
    if (connected && clipboardReady) {
      rfb.clipboardPasteFrom(heldPaste.text);
      setHeldPaste(undefined);
      notify.info('Text sent to the desktop clipboard');
      return;
    }
    const timer = setTimeout(() => {
      setHeldPaste(undefined);
      notify.error(pasteNotReady(), 'Paste');
    }, Math.max(0, heldPaste.at + PASTE_WAIT_MS - Date.now()));
    return () => clearTimeout(timer);
  }, [heldPaste, connected, clipboardReady, rfb, notify]);
  // Its server stopped: a new desktop is asked for at once (the connect waits for the home's lease to be free).
  const reopened = useRef(false);
  useEffect(() => {
    if (end !== 'host-lost' || reopened.current) return;
    reopened.current = true;
    props.onHostLost();
  });
  const leftAfterLogoff = useRef(false);
  useEffect(() => {
    if (end !== 'logged-off' || !props.kiosk || leftAfterLogoff.current) return;
    leftAfterLogoff.current = true;
    props.onLoggedOff();
  });

  return (
    <div className="desktop-frame" ref={frameRef}>
      <div className="toolbar" role="toolbar" aria-label="Desktop controls">
        <span className={`display-status status-${status.kind}`} role="status" aria-live="polite" data-status={status.kind} data-end={end}>
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
            setHeldPaste({ text: clip, at: Date.now() });
          }}
        >
          <label className="inline">
            <span className="sr-only">Text to paste into the desktop</span>
            <input type="text" value={clip} placeholder="Text to paste" onChange={(e) => setClip(e.target.value)} />
          </label>
          <button type="submit" className="btn" disabled={!!end || clip === ''}>
            Paste
          </button>
          {heldPaste && (
            <span className="paste-waiting" role="status" data-testid="paste-waiting">
              Paste waiting for the desktop…{' '}
              <button type="button" className="link" onClick={() => setHeldPaste(undefined)}>
                Cancel
              </button>
            </span>
          )}
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
      {props.afterHostLoss && !end && (
        <p className="host-loss-note" role="status" data-testid="after-host-loss">
          Your previous desktop's server stopped. This is a new desktop, with your files as last saved.
        </p>
      )}
      {end && <EndedScreen end={end} onReconnect={() => setAttempt((n) => n + 1)} onLeave={props.onLoggedOff} />}
      <VncView desktop={props.desktop} thinClient={props.thinClient} scale={scale} attempt={attempt} onStatus={onStatus} onRfb={onRfb} label={`Desktop ${props.desktop}`} />
    </div>
  );
}

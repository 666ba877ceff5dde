// The user portal: the pools you may use, your sessions, and the open desktop.
import { useEffect, useRef, useState } from 'react';
import { ApiError, type ApiErrorCode, poolConnect, poolList, sessionList, sessionLogoff, userPatch } from '../lib/api';
import { useLive } from '../lib/events';
import { timeAgo } from '../lib/format';
import { layoutChoices } from '../lib/keyboard';
import type { Me, PoolView, SessionView } from '../lib/types';
import { ActionButton, LoadError, useNotify } from '../lib/ui';
import { DesktopScreen } from './DesktopScreen';
import { MfaSetup } from '../lib/MfaSetup';

interface OpenDesktop {
  pool: string;
  desktop: string;
  /** Bumped at each open: the same desktop handed out again (after its host was lost) is a new screen. */
  serial: number;
  /** Opened by itself because the previous desktop's server stopped: the screen says why it is a new desktop. */
  afterHostLoss?: boolean;
}

const mayReset = (pool: PoolView | undefined): boolean => pool?.userReset === true;

/** After a host loss the pool is busy re-cloning the lost desktops: its first answers may be "full" or "still ending". */
const REOPEN_FOR_MS = 5 * 60_000;
const REOPEN_AGAIN_ON: ReadonlySet<ApiErrorCode> = new Set<ApiErrorCode>(['HOME_LEASE_HELD', 'HOME_LEASED', 'DESKTOP_STATE']);
const reopenAgain = (err: unknown): boolean => err instanceof ApiError && (err.status >= 500 || REOPEN_AGAIN_ON.has(err.code));


export function Portal(props: { me: Me; kiosk: boolean; thinClient: string | undefined; onMe: (me: Me) => void; onLogout: () => Promise<void> }) {
  const notify = useNotify();
  const pools = useLive(poolList, ['pool']);
  const sessions = useLive(sessionList, ['session', 'desktop']);
  const [open, setOpen] = useState<OpenDesktop>();
  const [mfaOpen, setMfaOpen] = useState(false);
  const mySessions = (sessions.data ?? []).filter((s) => s.user === props.me.user);
  const sessionIn = (pool: string): SessionView | undefined => mySessions.find((s) => s.pool === pool);
  /** Pools whose Open waits for the previous session to end (the daemon holds the connect until then). */
  const [waiting, setWaiting] = useState<ReadonlySet<string>>(new Set());
  /** Desktops logged off from this page: ending even before the live list says so. */
  const [loggedOff, setLoggedOff] = useState<ReadonlySet<string>>(new Set());
  // A session is never resumed once it ends: Open waits for its end, then starts the next one.
  const isEnding = (s: SessionView | undefined): boolean => s !== undefined && (s.state === 'logging-off' || loggedOff.has(s.desktop));
  useEffect(() => {
    if (!sessions.data || loggedOff.size === 0) return;
    const live = new Set(sessions.data.map((s) => s.desktop));
    if ([...loggedOff].some((d) => !live.has(d))) setLoggedOff(new Set([...loggedOff].filter((d) => live.has(d))));
  }, [sessions.data, loggedOff]);

  const connect = async (pool: string, afterHostLoss = false): Promise<void> => {
    const ending = isEnding(sessionIn(pool));
    if (ending) setWaiting((w) => new Set(w).add(pool));
    try {
      const res = await poolConnect(pool, props.thinClient);
      setLoggedOff((l) => new Set([...l].filter((d) => d !== res.desktop.name)));
      setOpen((o) => ({ pool, desktop: res.desktop.name, serial: (o?.serial ?? 0) + 1, ...(afterHostLoss ? { afterHostLoss } : {}) }));
    } finally {
      if (ending) setWaiting((w) => new Set([...w].filter((p) => p !== pool)));
    }
  };

  /** The open desktop's server stopped: the pool again, tried for a while as the pool makes room (the notice stays up). */
  const reopenAfterHostLoss = async (pool: string): Promise<void> => {
    const giveUpAt = Date.now() + REOPEN_FOR_MS;
    for (let attempt = 1; ; attempt++) {
      try {
        return await connect(pool, true);
      } catch (err) {
        if (!reopenAgain(err) || Date.now() > giveUpAt) throw err;
        await new Promise((r) => setTimeout(r, Math.min(1000 * attempt, 5000)));
      }
    }
  };

  // A thin client goes straight to the desktop when the user has exactly one pool: log in, work.
  const autoOpened = useRef(false);
  useEffect(() => {
    const only = pools.data?.length === 1 ? pools.data[0] : undefined;
    if (!props.kiosk || open || autoOpened.current || !only) return;
    autoOpened.current = true;
    connect(only.name).catch((err: unknown) => notify.error(err, `Opening ${only.name}`));
  });

  if (open) {
    return (
      <DesktopScreen
        key={`${open.desktop}#${open.serial}`}
        pool={open.pool}
        desktop={open.desktop}
        kiosk={props.kiosk}
        thinClient={props.thinClient}
        mayReset={mayReset(pools.data?.find((p) => p.name === open.pool))}
        afterHostLoss={open.afterHostLoss === true}
        onLeave={() => setOpen(undefined)}
        onHostLost={() => {
          // Its server stopped: the same pool's connect gives a desktop on another server, with the same home.
          reopenAfterHostLoss(open.pool).catch((err: unknown) => {
            notify.error(err, `Opening ${open.pool} again`);
            setOpen(undefined);
          });
        }}
        onLoggedOff={() => {
          setLoggedOff((l) => new Set(l).add(open.desktop));
          setOpen(undefined);
          if (props.kiosk) void props.onLogout();
        }}
      />
    );
  }

  return (
    <div className={props.kiosk ? 'portal kiosk' : 'portal'}>
      <header className="topbar">
        <span className="brand">Ardesia</span>
        <span className="spacer" />
        {!props.kiosk && (
          <label className="inline">
            Keyboard
            <select
              value={props.me.keyboardLayout}
              onChange={async (e) => {
                try {
                  const view = await userPatch(props.me.user, { keyboardLayout: e.target.value });
                  props.onMe({ ...props.me, keyboardLayout: view.keyboardLayout });
                  notify.info(`Keyboard layout set to ${view.keyboardLayout}; it applies from your next session`);
                } catch (err) {
                  notify.error(err, 'Keyboard layout');
                }
              }}
            >
              {layoutChoices(props.me.keyboardLayout).map((l) => (
                <option key={l.id} value={l.id}>
                  {l.label}
                </option>
              ))}
            </select>
          </label>
        )}
        <span className="who">{props.me.user}</span>
        {!props.kiosk && (
          <button type="button" className="btn" aria-expanded={mfaOpen} onClick={() => setMfaOpen(!mfaOpen)}>
            Two-factor sign-in: {props.me.mfa.enabled ? 'on' : 'off'}
          </button>
        )}
        {props.me.admin && !props.kiosk && (
          <a className="btn" href="/admin">
            Admin console
          </a>
        )}
        <button type="button" className="btn" onClick={() => void props.onLogout()}>
          Log out
        </button>
      </header>
      <main className="content">
        {mfaOpen &&
          (props.me.mfa.enabled ? (
            <p className="card" role="status">
              Two-factor sign-in is on. To move it to a new phone, ask an administrator to reset it, then set it up again here.
            </p>
          ) : (
            <MfaSetup
              onDone={() => {
                setMfaOpen(false);
                props.onMe({ ...props.me, mfa: { enabled: true, enrolmentRequired: false } });
              }}
            />
          ))}
        <h1>Your desktops</h1>
        <LoadError error={pools.error} />
        {pools.data?.length === 0 && <p>No desktop pool is open to you yet. Ask an administrator to entitle you to one.</p>}
        <ul className="pool-cards" aria-label="Pools">
          {(pools.data ?? []).map((pool) => {
            const found = sessionIn(pool.name);
            const ending = isEnding(found) || waiting.has(pool.name);
            const session = isEnding(found) ? undefined : found;
            return (
              <li key={pool.name} className="card pool-card">
                <h2>{pool.name}</h2>
                <p className="muted">
                  {pool.image} · {pool.persistent ? 'your own desktop, kept between sessions' : 'a fresh desktop each session'}
                </p>
                {session && (
                  <p>
                    Session on {session.desktop}, {session.state}, since {timeAgo(session.since)}
                  </p>
                )}
                {ending && (
                  <p role="status" data-testid={`closing-${pool.name}`}>
                    Closing your previous session…{waiting.has(pool.name) ? ' your new desktop opens as soon as it has ended.' : ''}
                  </p>
                )}
                <ActionButton kind="primary" label={session ? `Resume ${pool.name}` : `Open ${pool.name}`} action={() => connect(pool.name)} />
                {session && <ActionButton label="Log off" action={() => sessionLogoff(session.desktop)} done={`Logging off ${session.desktop}`} />}
                {session && pool.spice && (
                  // A download, not a fetch: the browser hands the file to remote-viewer, which deletes it once read.
                  <a className="btn" href={`/v1/desktops/${encodeURIComponent(session.desktop)}/spice.vv`} download={`${session.desktop}.vv`}>
                    Open in native client (.vv)
                  </a>
                )}
              </li>
            );
          })}
        </ul>
        <LoadError error={sessions.error} />
      </main>
    </div>
  );
}

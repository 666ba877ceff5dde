// Shared UI pieces: the one notification path for failed actions, buttons that say why they are disabled,
// tables with captions, labelled fields.
import { createContext, useCallback, useContext, useState, type ReactNode } from 'react';
import { errorText } from './format';

interface Notice {
  id: number;
  kind: 'error' | 'info';
  message: string;
  hint: string;
}

interface Notifier {
  error(err: unknown, what?: string): void;
  info(message: string): void;
}

const NotifyContext = createContext<Notifier>({ error: () => undefined, info: () => undefined });
export const useNotify = (): Notifier => useContext(NotifyContext);

let nextNoticeId = 1;

export function NotifyProvider({ children }: { children: ReactNode }) {
  const [notices, setNotices] = useState<Notice[]>([]);
  const push = useCallback((n: Omit<Notice, 'id'>) => {
    const id = nextNoticeId++;
    setNotices((all) => [...all.slice(-3), { ...n, id }]);
    if (n.kind === 'info') setTimeout(() => setNotices((all) => all.filter((x) => x.id !== id)), 6000);
  }, []);
  const notifier: Notifier = {
    error: (err, what) => {
      const { message, hint } = errorText(err);
      push({ kind: 'error', message: what ? `${what}: ${message}` : message, hint });
    },
    info: (message) => push({ kind: 'info', message, hint: '' }),
  };
  return (
    <NotifyContext.Provider value={notifier}>
      {children}
      <div className="notices" role="status" aria-live="polite">
        {notices.map((n) => (
          <div key={n.id} className={`notice notice-${n.kind}`} role={n.kind === 'error' ? 'alert' : undefined}>
            <div>
              <strong>{n.message}</strong>
              {n.hint && <div className="hint">{n.hint}</div>}
            </div>
            <button type="button" className="link" aria-label="Dismiss" onClick={() => setNotices((all) => all.filter((x) => x.id !== n.id))}>
              ×
            </button>
          </div>
        ))}
      </div>
    </NotifyContext.Provider>
  );
}

/** Runs an action; failures go to the notification path; `busy` disables the button meanwhile. */
export function ActionButton(props: {
  label: string;
  action: () => Promise<unknown>;
  disabledReason?: string | false;
  kind?: 'primary' | 'danger' | 'plain';
  confirm?: string;
  done?: string;
  className?: string;
}) {
  const notify = useNotify();
  const [busy, setBusy] = useState(false);
  const disabled = busy || !!props.disabledReason;
  return (
    <button
      type="button"
      className={`btn btn-${props.kind ?? 'plain'} ${props.className ?? ''}`}
      disabled={disabled}
      title={props.disabledReason || undefined}
      aria-busy={busy}
      onClick={async () => {
        if (props.confirm && !window.confirm(props.confirm)) return;
        setBusy(true);
        try {
          await props.action();
          if (props.done) notify.info(props.done);
        } catch (err) {
          notify.error(err, props.label);
        } finally {
          setBusy(false);
        }
      }}
    >
      {busy ? `${props.label}…` : props.label}
    </button>
  );
}

export interface Column<T> {
  label: string;
  render: (row: T) => ReactNode;
}

export function DataTable<T>({ caption, columns, rows, rowKey, empty }: { caption: string; columns: Column<T>[]; rows: T[] | undefined; rowKey: (row: T) => string; empty: string }) {
  return (
    <table className="data">
      <caption>{caption}</caption>
      <thead>
        <tr>
          {columns.map((c) => (
            <th key={c.label} scope="col">
              {c.label}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows === undefined ? (
          <tr>
            <td colSpan={columns.length}>Loading…</td>
          </tr>
        ) : rows.length === 0 ? (
          <tr>
            <td colSpan={columns.length}>{empty}</td>
          </tr>
        ) : (
          rows.map((row) => (
            <tr key={rowKey(row)}>
              {columns.map((c) => (
                <td key={c.label}>{c.render(row)}</td>
              ))}
            </tr>
          ))
        )}
      </tbody>
    </table>
  );
}

export function Field(props: { label: string; children: ReactNode; hint?: string }) {
  return (
    <label className="field">
      <span className="field-label">{props.label}</span>
      {props.children}
      {props.hint && <span className="hint">{props.hint}</span>}
    </label>
  );
}

/** A load error shown where the data would be, in plain words. */
export function LoadError({ error }: { error: unknown }) {
  if (!error) return null;
  const { message, hint } = errorText(error);
  return (
    <p className="load-error" role="alert">
      {message} {hint}
    </p>
  );
}

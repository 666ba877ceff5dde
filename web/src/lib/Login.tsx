// The login form (portal and admin console): errors in plain words, the server's own message for refusals; an account
// with two-factor sign-in is asked for its code after the password (the password is kept to send both together).
import { useState } from 'react';
import { ApiError, authLogin } from './api';
import { errorText } from './format';
import type { Me } from './types';

function loginErrorText(err: unknown): string {
  if (err instanceof ApiError && err.code === 'LOGIN_FAILED') return 'The user name or password is wrong. Check both and try again.';
  if (err instanceof ApiError && err.code === 'LOGIN_RATE_LIMITED') return `Too many failed attempts. ${err.hint || 'Wait a minute, then try again.'}`;
  if (err instanceof ApiError && err.code === 'MFA_CODE_WRONG') return `That code did not work (${err.message}). Type the code your app shows now, or a recovery code.`;
  const { message, hint } = errorText(err);
  return `${message} ${hint}`.trim();
}

export function Login(props: { title: string; onLogin: (me: Me) => void }) {
  const [user, setUser] = useState('');
  const [password, setPassword] = useState('');
  /** undefined: the password step; a string: the two-factor step (the code typed so far). */
  const [code, setCode] = useState<string>();
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const restart = () => {
    setCode(undefined);
    setPassword('');
  };
  return (
    <main className="login">
      <form
        className="card login-card"
        aria-labelledby="login-title"
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          setError('');
          try {
            props.onLogin(await authLogin(user.trim(), password, code?.trim() || undefined));
          } catch (err) {
            if (err instanceof ApiError && err.code === 'MFA_CODE_REQUIRED' && code === undefined) {
              setCode('');
            } else if (err instanceof ApiError && err.code === 'MFA_CODE_WRONG') {
              setError(loginErrorText(err));
              setCode('');
            } else {
              setError(loginErrorText(err));
              restart();
            }
          } finally {
            setBusy(false);
          }
        }}
      >
        <h1 id="login-title">{props.title}</h1>
        {code === undefined ? (
          <>
            <label className="field">
              <span className="field-label">User name</span>
              <input name="user" autoComplete="username" required autoFocus value={user} onChange={(e) => setUser(e.target.value)} />
            </label>
            <label className="field">
              <span className="field-label">Password</span>
              <input name="password" type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
            </label>
          </>
        ) : (
          <>
            <p>Two-factor sign-in: open your authenticator app and type the 6-digit code it shows for Ardesia ({user.trim()}). Lost the phone? Type one of your recovery codes.</p>
            <label className="field">
              <span className="field-label">Code</span>
              <input name="code" autoComplete="one-time-code" inputMode="text" required autoFocus value={code} onChange={(e) => setCode(e.target.value)} />
            </label>
          </>
        )}
        {error && (
          <p className="form-error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" className="btn btn-primary" disabled={busy}>
          {busy ? 'Logging in…' : code === undefined ? 'Log in' : 'Verify'}
        </button>
        {code !== undefined && (
          <button type="button" className="btn" onClick={restart}>
            Start over
          </button>
        )}
      </form>
    </main>
  );
}

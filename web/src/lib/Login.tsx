// The login form (portal and admin console): errors in plain words, the server's own message for refusals.
import { useState } from 'react';
import { ApiError, authLogin } from './api';
import { errorText } from './format';
import type { Me } from './types';

function loginErrorText(err: unknown): string {
  if (err instanceof ApiError && err.code === 'LOGIN_FAILED') return 'The user name or password is wrong. Check both and try again.';
  if (err instanceof ApiError && err.code === 'LOGIN_RATE_LIMITED') return `Too many failed attempts. ${err.hint || 'Wait a minute, then try again.'}`;
  const { message, hint } = errorText(err);
  return `${message} ${hint}`.trim();
}

export function Login(props: { title: string; onLogin: (me: Me) => void }) {
  const [user, setUser] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
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
            props.onLogin(await authLogin(user.trim(), password));
          } catch (err) {
            setError(loginErrorText(err));
            setPassword('');
          } finally {
            setBusy(false);
          }
        }}
      >
        <h1 id="login-title">{props.title}</h1>
        <label className="field">
          <span className="field-label">User name</span>
          <input name="user" autoComplete="username" required autoFocus value={user} onChange={(e) => setUser(e.target.value)} />
        </label>
        <label className="field">
          <span className="field-label">Password</span>
          <input name="password" type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
        </label>
        {error && (
          <p className="form-error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" className="btn btn-primary" disabled={busy}>
          {busy ? 'Logging in…' : 'Log in'}
        </button>
      </form>
    </main>
  );
}

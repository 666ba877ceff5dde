// The single-page app: the admin console under /admin, the user portal everywhere else.
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { AdminApp } from './admin/AdminApp';
import { Login } from './lib/Login';
import { MfaRequired } from './lib/MfaRequired';
import { useMe } from './lib/session';
import { NotifyProvider } from './lib/ui';
import { Portal } from './portal/Portal';
import './style.css';

const isAdminPath = location.pathname === '/admin' || location.pathname.startsWith('/admin/');
/** `?thinclient=MAC`: opened by a thin client's kiosk browser. */
const thinClient = new URLSearchParams(location.search).get('thinclient') ?? undefined;

function App() {
  const { me, setMe, logout } = useMe();
  if (me === undefined) return <p className="loading">Loading…</p>;
  if (me === null) return <Login title={isAdminPath ? 'Ardesia administration' : 'Ardesia'} onLogin={setMe} />;
  if (me.mfa.enrolmentRequired) return <MfaRequired me={me} onMe={setMe} onLogout={logout} />;
  if (isAdminPath) return <AdminApp me={me} onLogout={logout} />;
  return <Portal me={me} kiosk={thinClient !== undefined} thinClient={thinClient} onMe={setMe} onLogout={logout} />;
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <NotifyProvider>
      <App />
    </NotifyProvider>
  </StrictMode>,
);

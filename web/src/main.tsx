// The single-page app: the admin console under /admin, the user portal everywhere else.
import { StrictMode, useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { AdminApp } from './admin/AdminApp';
import { Login } from './lib/Login';
import { kioskLogin } from './lib/api';
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
  // A thin client whose inventory names a kiosk account opens it with no login page (KIOSK_NOT_CONFIGURED: the login form).
  const [kioskAsked, setKioskAsked] = useState(thinClient === undefined || isAdminPath);
  useEffect(() => {
    if (me !== null || kioskAsked) return;
    kioskLogin(thinClient!)
      .then(setMe, () => undefined)
      .finally(() => setKioskAsked(true));
  }, [me, kioskAsked, setMe]);
  if (me === undefined || (me === null && !kioskAsked)) return <p className="loading">Loading…</p>;
  // On a thin client, after a logoff the kiosk account (if any) opens again, a fresh session.
  const logoutThenKiosk = async (): Promise<void> => {
    await logout();
    if (thinClient !== undefined && !isAdminPath) setKioskAsked(false);
  };
  if (me === null) return <Login title={isAdminPath ? 'Ardesia administration' : 'Ardesia'} onLogin={setMe} />;
  if (me.mfa.enrolmentRequired) return <MfaRequired me={me} onMe={setMe} onLogout={logout} />;
  if (isAdminPath) return <AdminApp me={me} onLogout={logout} />;
  return <Portal me={me} kiosk={thinClient !== undefined} thinClient={thinClient} onMe={setMe} onLogout={logoutThenKiosk} />;
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <NotifyProvider>
      <App />
    </NotifyProvider>
  </StrictMode>,
);

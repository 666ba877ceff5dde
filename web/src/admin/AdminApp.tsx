// The admin console: a section list (real links, keyboard reachable) and one page per resource.
import { useEffect, useState, type ReactNode } from 'react';
import { useLiveStatus } from '../lib/events';
import type { Me } from '../lib/types';
import { AuditPage } from './AuditPage';
import { DesktopsPage } from './DesktopsPage';
import { DirectoryPage } from './DirectoryPage';
import { HostPage } from './HostPage';
import { HostsPage } from './HostsPage';
import { ImagesPage } from './ImagesPage';
import { PoolsPage } from './PoolsPage';
import { SessionsPage } from './SessionsPage';
import { ThinClientsPage } from './ThinClientsPage';
import { UsersPage } from './UsersPage';
import { UsagePage } from './UsagePage';

export const ADMIN_SECTIONS: ReadonlyArray<{ id: string; title: string; page: () => ReactNode }> = [
  { id: 'host', title: 'Host', page: () => <HostPage /> },
  { id: 'hosts', title: 'Hosts', page: () => <HostsPage /> },
  { id: 'images', title: 'Images', page: () => <ImagesPage /> },
  { id: 'pools', title: 'Pools', page: () => <PoolsPage /> },
  { id: 'desktops', title: 'Desktops', page: () => <DesktopsPage /> },
  { id: 'sessions', title: 'Sessions', page: () => <SessionsPage /> },
  { id: 'usage', title: 'Usage', page: () => <UsagePage /> },
  { id: 'users', title: 'Users and groups', page: () => <UsersPage /> },
  { id: 'directory', title: 'Directory sources', page: () => <DirectoryPage /> },
  { id: 'thinclients', title: 'Thin clients', page: () => <ThinClientsPage /> },
  { id: 'audit', title: 'Audit log', page: () => <AuditPage /> },
];

function sectionFromPath(path: string): string {
  const id = path.replace(/^\/admin\/?/, '').split('/')[0] ?? '';
  return ADMIN_SECTIONS.some((s) => s.id === id) ? id : 'host';
}

export function AdminApp(props: { me: Me; onLogout: () => Promise<void> }) {
  const [section, setSection] = useState(() => sectionFromPath(location.pathname));
  const live = useLiveStatus();
  useEffect(() => {
    const onPop = () => setSection(sectionFromPath(location.pathname));
    window.addEventListener('popstate', onPop);
    return () => window.removeEventListener('popstate', onPop);
  }, []);
  const current = ADMIN_SECTIONS.find((s) => s.id === section) ?? ADMIN_SECTIONS[0]!;
  useEffect(() => {
    document.title = `${current.title} · Ardesia admin`;
  }, [current.title]);

  if (!props.me.admin) {
    return (
      <main className="content">
        <h1>Administrators only</h1>
        <p>
          You are logged in as {props.me.user}, who is not an administrator. <a href="/">Go to your desktops</a>.
        </p>
      </main>
    );
  }

  return (
    <div className="admin">
      <header className="topbar">
        <span className="brand">Ardesia admin</span>
        <span className={`live live-${live}`} title="Live updates from the server">
          {live === 'live' ? 'Live' : live === 'retrying' ? 'Live updates reconnecting…' : 'Connecting…'}
        </span>
        <span className="spacer" />
        <a className="btn" href="/">
          Portal
        </a>
        <span className="who">{props.me.user}</span>
        <button type="button" className="btn" onClick={() => void props.onLogout()}>
          Log out
        </button>
      </header>
      <div className="admin-body">
        <nav aria-label="Admin sections" className="sidenav">
          <ul>
            {ADMIN_SECTIONS.map((s) => (
              <li key={s.id}>
                <a
                  href={`/admin/${s.id}`}
                  aria-current={s.id === section ? 'page' : undefined}
                  onClick={(e) => {
                    if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
                    e.preventDefault();
                    history.pushState(null, '', `/admin/${s.id}`);
                    setSection(s.id);
                  }}
                >
                  {s.title}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <main className="content" aria-labelledby="page-title" key={current.id}>
          <h1 id="page-title" tabIndex={-1}>
            {current.title}
          </h1>
          {current.page()}
        </main>
      </div>
    </div>
  );
}

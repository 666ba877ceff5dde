// The page an administrator sees first when the site requires two-factor sign-in and theirs is not on yet:
// everything else is refused by the API (MFA_ENROLMENT_REQUIRED) until it is.
import { authMe } from './api';
import { MfaSetup } from './MfaSetup';
import type { Me } from './types';
import { useNotify } from './ui';

export function MfaRequired(props: { me: Me; onMe: (me: Me) => void; onLogout: () => Promise<void> }) {
  const notify = useNotify();
  return (
    <div className="portal">
      <header className="topbar">
        <span className="brand">Ardesia</span>
        <span className="spacer" />
        <span className="who">{props.me.user}</span>
        <button type="button" className="btn" onClick={() => void props.onLogout()}>
          Log out
        </button>
      </header>
      <main className="content">
        <h1>Set up two-factor sign-in</h1>
        <p>This site requires administrators to use two-factor sign-in. Set it up now; the rest of Ardesia opens once it is on.</p>
        <MfaSetup onDone={() => authMe().then(props.onMe, (err: unknown) => notify.error(err, 'Two-factor sign-in'))} />
      </main>
    </div>
  );
}

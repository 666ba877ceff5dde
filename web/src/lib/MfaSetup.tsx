// Two-factor set-up: a QR code and the same secret as text, confirmed with a code before it is on; then the
// recovery codes, shown this once. Used in the portal and on the page an administrator must pass first.
import { useState } from 'react';
import { mfaConfirm, mfaEnrol } from './api';
import type { MfaEnrolment } from './types';
import { ActionButton } from './ui';

export function MfaSetup(props: { onDone: () => void }) {
  const [enrolment, setEnrolment] = useState<MfaEnrolment>();
  const [code, setCode] = useState('');
  const [recovery, setRecovery] = useState<string[]>();
  if (recovery) {
    return (
      <section className="card mfa-setup" aria-label="Recovery codes">
        <h2>Two-factor sign-in is on</h2>
        <p>
          Keep these recovery codes somewhere safe (printed, or in a password manager). Each one logs you in once if your phone is lost.
          They are shown only now.
        </p>
        <ul className="recovery-codes" aria-label="Your recovery codes">
          {recovery.map((c) => (
            <li key={c}>
              <code>{c}</code>
            </li>
          ))}
        </ul>
        <button type="button" className="btn btn-primary" onClick={props.onDone}>
          I have saved them
        </button>
      </section>
    );
  }
  if (!enrolment) {
    return (
      <section className="card mfa-setup" aria-label="Two-factor sign-in">
        <p>Two-factor sign-in asks for a code from an authenticator app on your phone (FreeOTP, Aegis, Google Authenticator…) after your password.</p>
        <ActionButton kind="primary" label="Set up two-factor sign-in" action={async () => setEnrolment(await mfaEnrol())} />
      </section>
    );
  }
  return (
    <form className="card mfa-setup" aria-label="Two-factor set-up" onSubmit={(e) => e.preventDefault()}>
      <h2>Scan this QR code with your authenticator app</h2>
      <img className="mfa-qr" src={enrolment.qrCode} alt="QR code for your authenticator app" width={220} height={220} />
      <p>
        Or type this key in the app: <code data-testid="mfa-secret">{enrolment.secret}</code>
      </p>
      <label className="field">
        <span className="field-label">Code the app shows</span>
        <input name="mfa-code" autoComplete="one-time-code" value={code} onChange={(e) => setCode(e.target.value)} />
      </label>
      <ActionButton
        kind="primary"
        label="Turn on two-factor sign-in"
        disabledReason={code.trim() === '' ? 'type the code the app shows' : false}
        action={async () => setRecovery((await mfaConfirm(code.trim())).recoveryCodes)}
      />
    </form>
  );
}

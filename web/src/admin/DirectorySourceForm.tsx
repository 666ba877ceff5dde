// Add or edit a directory source made in the console: the --directory file's fields (the server checks them with the
// file's schema and lists every problem). The bind password is write-only: empty on an edit keeps the stored one.
import { useState } from 'react';
import { directoryConnectionTest, directorySourceCreate, directorySourceReplace } from '../lib/api';
import type { DirectoryConnectionResult, DirectorySourceInput, DirectorySourceView } from '../lib/types';
import { ActionButton, Field } from '../lib/ui';

export interface DirectoryDraft {
  name: string;
  kind: 'ldap' | 'ad';
  urls: string;
  startTls: boolean;
  caFile: string;
  tlsServerName: string;
  allowInsecure: boolean;
  bindDn: string;
  bindPassword: string;
  userBase: string;
  groupBase: string;
  loginAttribute: string;
  realms: string;
  userFilter: string;
  /** One mapping a line: `directory group = ardesia-group, other-group`. */
  groups: string;
  adminGroups: string;
  keyboardLayoutAttribute: string;
  timeoutMs: string;
}

const lines = (text: string) => text.split('\n').map((l) => l.trim()).filter(Boolean);
const list = (text: string) => text.split(/[,\n]/).map((l) => l.trim()).filter(Boolean);

export function draftOf(s: DirectorySourceView | undefined): DirectoryDraft {
  const c = s?.settings;
  return {
    name: c?.name ?? '',
    kind: c?.kind ?? 'ldap',
    urls: c?.urls.join('\n') ?? '',
    startTls: c?.startTls ?? false,
    caFile: c?.caFile ?? '',
    tlsServerName: c?.tlsServerName ?? '',
    allowInsecure: c?.allowInsecure ?? false,
    bindDn: c?.bind?.dn ?? '',
    bindPassword: c?.bind?.password ?? '', // only ever a file:/env: reference; a stored password is never sent here
    userBase: c?.userBase ?? '',
    groupBase: c?.groupBase ?? '',
    loginAttribute: c?.loginAttribute ?? '',
    realms: c?.realms.join(', ') ?? '',
    userFilter: c?.userFilter ?? '',
    groups: Object.entries(c?.groups ?? {}).map(([g, to]) => `${g} = ${to.join(', ')}`).join('\n'),
    adminGroups: c?.adminGroups.join('\n') ?? '',
    keyboardLayoutAttribute: c?.keyboardLayoutAttribute ?? '',
    timeoutMs: String(c?.timeoutMs ?? 5000),
  };
}

/** The body the API takes; an empty optional field is left out, so the server's default applies. */
export function bodyOf(d: DirectoryDraft): DirectorySourceInput {
  const opt = (v: string) => v.trim() || undefined;
  const groups: Record<string, string[]> = {};
  for (const line of lines(d.groups)) {
    const at = line.lastIndexOf('=');
    // A line without "=" is sent as a group mapped to nothing, so the server names it instead of it vanishing.
    if (at < 0) groups[line] = [];
    else groups[line.slice(0, at).trim()] = list(line.slice(at + 1));
  }
  const timeout = Number(d.timeoutMs.trim());
  return {
    name: d.name.trim(),
    kind: d.kind,
    urls: lines(d.urls),
    startTls: d.startTls,
    caFile: opt(d.caFile),
    tlsServerName: opt(d.tlsServerName),
    allowInsecure: d.allowInsecure,
    bind: d.bindDn.trim() ? { dn: d.bindDn.trim(), password: d.bindPassword === '' ? undefined : d.bindPassword } : undefined,
    userBase: d.userBase.trim(),
    groupBase: d.groupBase.trim(),
    loginAttribute: (opt(d.loginAttribute) as DirectorySourceInput['loginAttribute']) ?? undefined,
    realms: list(d.realms),
    userFilter: opt(d.userFilter),
    groups,
    adminGroups: lines(d.adminGroups),
    keyboardLayoutAttribute: opt(d.keyboardLayoutAttribute),
    timeoutMs: d.timeoutMs.trim() === '' ? undefined : Number.isFinite(timeout) ? timeout : (d.timeoutMs as unknown as number),
  };
}

const PROBLEM_TEXT: Record<string, string> = {
  unreachable: 'no server answered',
  tls: 'the TLS connection failed (certificate or name)',
  'bind-refused': 'the server refused the bind account',
  search: 'the search under the user base failed',
};

export function DirectorySourceForm(props: { source?: DirectorySourceView; onDone: () => void }) {
  const { source } = props;
  const [d, setD] = useState<DirectoryDraft>(() => draftOf(source));
  const [tried, setTried] = useState<DirectoryConnectionResult | undefined>();
  const set = <K extends keyof DirectoryDraft>(k: K, v: DirectoryDraft[K]) => setD((old) => ({ ...old, [k]: v }));
  const text = (k: keyof DirectoryDraft, label: string, hint?: string, placeholder?: string) => (
    <Field label={label} hint={hint}>
      <input value={d[k] as string} placeholder={placeholder} autoComplete="off" spellCheck={false} onChange={(e) => set(k, e.target.value as never)} />
    </Field>
  );
  const area = (k: keyof DirectoryDraft, label: string, hint: string, placeholder: string) => (
    <Field label={label} hint={hint}>
      <textarea value={d[k] as string} rows={3} placeholder={placeholder} spellCheck={false} onChange={(e) => set(k, e.target.value as never)} />
    </Field>
  );
  const title = source ? `Edit directory source ${source.name}` : 'Add a directory source';
  const passwordHint = source?.bindPassword === 'set' ? 'a password is stored (never shown): leave empty to keep it, or type a new one' : 'type the password (kept in the store, never shown again), or a file:/absolute/path or env:VARIABLE reference';
  return (
    <form className="card form-grid" aria-label={title} onSubmit={(e) => e.preventDefault()}>
      <h2>{source ? `Edit ${source.name}` : 'New directory source'}</h2>
      <Field label="Name" hint="1-32 lower-case letters, digits or dashes">
        <input value={d.name} disabled={!!source} placeholder="council" autoComplete="off" spellCheck={false} onChange={(e) => set('name', e.target.value)} />
      </Field>
      <Field label="Kind">
        <select value={d.kind} onChange={(e) => set('kind', e.target.value as DirectoryDraft['kind'])}>
          <option value="ldap">LDAP (OpenLDAP)</option>
          <option value="ad">Active Directory</option>
        </select>
      </Field>
      {area('urls', 'Server URLs', 'one a line, tried in order: ldaps://host:636, or ldap:// with StartTLS', 'ldaps://dc1.council.local')}
      <label className="inline">
        <input type="checkbox" checked={d.startTls} onChange={(e) => set('startTls', e.target.checked)} /> StartTLS on ldap:// URLs
      </label>
      {text('caFile', 'CA file', "PEM file of the CA that signed the servers' certificates (on the daemon's host); empty = the system's CAs", '/etc/ardesia/directory-ca.pem')}
      {text('tlsServerName', 'TLS server name', "the name in the servers' certificates when it differs from the URL's host")}
      <label className="inline">
        <input type="checkbox" checked={d.allowInsecure} onChange={(e) => set('allowInsecure', e.target.checked)} /> Allow plain LDAP (passwords cross the network in clear)
      </label>
      {text('bindDn', 'Bind DN', 'the account that searches; empty = anonymous search', 'cn=ardesia,ou=services,dc=council,dc=local')}
      <Field label="Bind password" hint={passwordHint}>
        <input type="password" value={d.bindPassword} autoComplete="new-password" onChange={(e) => set('bindPassword', e.target.value)} />
      </Field>
      {text('userBase', 'User base DN', undefined, 'ou=people,dc=council,dc=local')}
      {text('groupBase', 'Group base DN', undefined, 'ou=groups,dc=council,dc=local')}
      <Field label="Login attribute" hint="empty = uid for LDAP, sAMAccountName for Active Directory">
        <select value={d.loginAttribute} onChange={(e) => set('loginAttribute', e.target.value)}>
          <option value="">(default)</option>
          {['uid', 'sAMAccountName', 'userPrincipalName', 'cn', 'mail'].map((a) => (
            <option key={a} value={a}>
              {a}
            </option>
          ))}
        </select>
      </Field>
      {text('realms', 'Realms', 'Active Directory: the realms users may type (COUNCIL.LOCAL, COUNCIL), comma-separated')}
      {text('userFilter', 'User filter', 'an LDAP filter in parentheses that every user entry must match', '(objectClass=inetOrgPerson)')}
      {area('groups', 'Group mapping', 'one a line: directory group (cn or DN) = Ardesia groups, comma-separated', 'office = office-users')}
      {area('adminGroups', 'Administrator groups', 'one a line: members of these directory groups are Ardesia administrators', 'it-admins')}
      {text('keyboardLayoutAttribute', 'Keyboard layout attribute', 'a directory attribute holding the XKB layout (de, fr); empty = none')}
      {text('timeoutMs', 'Timeout (ms)', '100-60000')}
      {tried && (
        <p className={tried.ok ? 'dir-test-result' : 'dir-test-result load-error'} role="status">
          {tried.ok ? `Connection works: ${tried.message}` : `Connection failed: ${PROBLEM_TEXT[tried.problem ?? 'unreachable']} (${tried.code ?? 'search'}). ${tried.message} ${tried.hint ?? ''}`}
        </p>
      )}
      <div className="form-actions">
        <ActionButton kind="plain" label="Test connection" action={async () => setTried(await directoryConnectionTest(bodyOf(d)))} />
        <ActionButton
          kind="primary"
          label={source ? 'Save directory source' : 'Add directory source'}
          done={source ? `Directory source ${source.name} saved` : undefined}
          disabledReason={!d.name.trim() ? 'give the name' : false}
          action={async () => {
            if (source) await directorySourceReplace(source.name, bodyOf(d));
            else await directorySourceCreate(bodyOf(d));
            props.onDone();
          }}
        />
        <button type="button" className="btn" onClick={props.onDone}>
          Cancel
        </button>
      </div>
    </form>
  );
}

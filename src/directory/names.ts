// Names as users type them on their PC (`jdoe`, `jdoe@council.test`, `COUNCIL\jdoe`) → the account and the search filter. Pure.

export interface TypedName {
  /** The account part, as typed (jdoe). */
  account: string;
  /** The realm part if typed (council.test from jdoe@council.test, COUNCIL from COUNCIL\jdoe). */
  realm?: string;
  form: 'plain' | 'upn' | 'down-level';
}

/** Splits a typed name; undefined when it cannot be a login name (empty parts, both forms at once, control characters). */
export function typedNameParse(typed: string): TypedName | undefined {
  const name = typed.trim();
  if (name === '' || /[\u0000-\u001f\u007f]/.test(name)) return undefined;
  const slash = name.indexOf('\\');
  const at = name.lastIndexOf('@');
  if (slash >= 0) {
    const realm = name.slice(0, slash);
    const account = name.slice(slash + 1);
    if (realm === '' || account === '' || account.includes('\\') || account.includes('@')) return undefined;
    return { account, realm, form: 'down-level' };
  }
  if (at >= 0) {
    const account = name.slice(0, at);
    const realm = name.slice(at + 1);
    if (account === '' || realm === '' || account.includes('@')) return undefined;
    return { account, realm, form: 'upn' };
  }
  return { account: name, form: 'plain' };
}

/** RFC 4515 escaping of a value inside a filter: `*`, `(`, `)`, `\` and NUL can never change the filter's shape. */
export function filterEscape(value: string): string {
  return value.replace(/[*()\\\u0000]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** Whether a typed realm names this source: the DNS realm (council.test) or its first label (COUNCIL), any case. */
export function realmMatches(typedRealm: string | undefined, realms: readonly string[]): boolean {
  if (typedRealm === undefined) return true;
  if (realms.length === 0) return false;
  const t = typedRealm.toLowerCase();
  return realms.some((r) => {
    const full = r.toLowerCase();
    return t === full || t === full.split('.')[0];
  });
}

export interface FilterInput {
  kind: 'ldap' | 'ad';
  loginAttribute: string;
  realms: readonly string[];
  userFilter?: string;
}

/**
 * The search filter that finds the typed user in one source, or undefined when the name cannot belong to it
 * (a realm it does not serve; a realm typed to an OpenLDAP source, which has none).
 */
export function userFilterFor(typed: string, src: FilterInput): string | undefined {
  const name = typedNameParse(typed);
  if (!name) return undefined;
  const base = src.userFilter ?? (src.kind === 'ad' ? '(&(objectCategory=person)(objectClass=user))' : '(objectClass=inetOrgPerson)');
  if (src.kind === 'ldap') {
    if (name.form !== 'plain') return undefined;
    return `(&${base}(${src.loginAttribute}=${filterEscape(name.account)}))`;
  }
  if (!realmMatches(name.realm, src.realms)) return undefined;
  // A UPN is looked up as typed (it may differ from sAMAccountName), a down-level or plain name by sAMAccountName.
  if (name.form === 'upn') return `(&${base}(|(userPrincipalName=${filterEscape(`${name.account}@${name.realm}`)})(sAMAccountName=${filterEscape(name.account)})))`;
  const attr = src.loginAttribute === 'userPrincipalName' ? 'sAMAccountName' : src.loginAttribute;
  return `(&${base}(${attr}=${filterEscape(name.account)}))`;
}

/** The Ardesia user name a directory account gets at its first login: lower-case, and only when Ardesia accepts it. */
export function ardesiaNameFor(loginValue: string): string | undefined {
  const n = loginValue.split('@')[0]!.toLowerCase();
  return /^[a-z0-9][a-z0-9._-]{0,62}$/.test(n) ? n : undefined;
}

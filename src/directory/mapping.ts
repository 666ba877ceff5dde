// Directory groups → Ardesia groups and the admin role. Pure.

/** The cn of a DN (`CN=Staff,OU=Groups,DC=council,DC=test` → `Staff`), or the text itself when it is no DN. */
export function groupCn(dnOrName: string): string {
  const m = /^\s*cn=((?:\\.|[^,\\])*)/i.exec(dnOrName);
  return m ? m[1]!.replace(/\\(.)/g, '$1') : dnOrName;
}

/** A configured key matches a group by full DN or by cn, without regard to case (as LDAP compares them). */
function keyMatches(key: string, groupDn: string): boolean {
  const k = key.trim().toLowerCase();
  return k === groupDn.trim().toLowerCase().replace(/\s*,\s*/g, ',') || k === groupCn(groupDn).toLowerCase();
}

export interface GroupMapping {
  groups: Record<string, string[]>;
  adminGroups: readonly string[];
}

export interface Entitlements {
  groups: string[];
  admin: boolean;
}

/** The Ardesia groups (sorted, once each) and the admin role that a user's directory groups (DNs, nested included) give. */
export function entitlementsOf(groupDns: readonly string[], mapping: GroupMapping): Entitlements {
  const groups = new Set<string>();
  for (const [key, targets] of Object.entries(mapping.groups)) {
    if (groupDns.some((dn) => keyMatches(key, dn))) for (const t of targets) groups.add(t);
  }
  const admin = mapping.adminGroups.some((key) => groupDns.some((dn) => keyMatches(key, dn)));
  return { groups: [...groups].sort(), admin };
}

// Local users, groups and roles: the store's rows, their views, and every change audited with who and from where.
import type { Selectable } from 'kysely';
import { groupBy } from '../lib/group-by.js';
import { ArdesiaError } from '../contract/errors.js';
import type { GroupView, Role, UserCreateBody, UserPatchBody, UserView } from '../contract/users.js';
import { now } from '../lib/time.js';
import { auditAppend } from '../audit/log.js';
import type { Store } from '../store/db.js';
import { passwordGenerate, passwordHash, passwordProblem } from './passwords.js';
import { type CredentialKeep, LiveConnections } from './live-connections.js';
import type { UserTable } from '../store/schema-auth.js';
import { ROOT_PRINCIPAL } from './tokens.js';

export type UserRow = Selectable<UserTable>;

/** Who makes a change and from where, for the audit log. */
export interface Actor {
  principal: string;
  address: string;
}

const RESERVED_NAMES = new Set([ROOT_PRINCIPAL, 'anonymous']);

export const rolesOf = (row: Pick<UserRow, 'roles'>): Role[] => JSON.parse(row.roles) as Role[];
/** Users with the admin role are administrators (as the root token is). */
export const isAdmin = (row: Pick<UserRow, 'roles'>): boolean => rolesOf(row).includes('admin');
/** Every user has the user role; admin adds to it. Stored sorted so views compare equal. */
const normalizeRoles = (roles: readonly Role[] | undefined): Role[] => [...new Set<Role>(['user', ...(roles ?? [])])].sort();

export function userView(row: UserRow, groups: string[]): UserView {
  return {
    name: row.name,
    fullName: row.full_name,
    roles: rolesOf(row),
    groups,
    admin: isAdmin(row),
    disabled: row.disabled === 1,
    keyboardLayout: row.keyboard_layout,
    createdAt: row.created_at,
    lastLoginAt: row.last_login_at,
    directory: row.directory_source === null ? null : { source: row.directory_source, login: row.directory_login },
    mfaEnabled: row.mfa_secret !== null,
    kiosk: row.kiosk === 1,
  };
}

/** A kiosk account is as public as the place of its PC: it never holds the admin role. */
function kioskRolesCheck(name: string, kiosk: boolean, roles: readonly Role[]): void {
  if (kiosk && roles.includes('admin')) throw new ArdesiaError('KIOSK_ACCOUNT_ADMIN', `${name} is a kiosk account and cannot be an administrator`);
}

function passwordCheck(password: string, user: string): void {
  const problem = passwordProblem(password, user);
  if (problem) throw new ArdesiaError('PASSWORD_WEAK', `${problem}`);
}

export class UsersService {
  constructor(
    readonly db: Store,
    /** The user's open display, console and event connections: closed when their credentials end. */
    readonly connections: LiveConnections = new LiveConnections(),
  ) {}

  async row(name: string): Promise<UserRow | undefined> {
    return this.db.selectFrom('users').selectAll().where('name', '=', name).executeTakeFirst();
  }

  async rowOrThrow(name: string): Promise<UserRow> {
    const row = await this.row(name);
    if (!row) throw new ArdesiaError('USER_NOT_FOUND', `there is no user ${name}`);
    return row;
  }

  async groupsOf(user: string): Promise<string[]> {
    const rows = await this.db.selectFrom('user_groups').select('group').where('user', '=', user).orderBy('group').execute();
    return rows.map((r) => r.group);
  }

  async isAdmin(user: string): Promise<boolean> {
    if (user === ROOT_PRINCIPAL) return true;
    const row = await this.row(user);
    return row !== undefined && row.disabled === 0 && isAdmin(row);
  }

  async show(name: string): Promise<UserView> {
    return userView(await this.rowOrThrow(name), await this.groupsOf(name));
  }

  async list(): Promise<UserView[]> {
    const rows = await this.db.selectFrom('users').selectAll().orderBy('name').execute();
    const memberships = await this.db.selectFrom('user_groups').selectAll().orderBy('group').execute();
    const groupsOf = groupBy(memberships, (m) => m.user);
    return rows.map((r) => userView(r, (groupsOf.get(r.name) ?? []).map((m) => m.group)));
  }

  async create(body: UserCreateBody, actor: Actor): Promise<UserView & { password?: string }> {
    if (RESERVED_NAMES.has(body.name.toLowerCase())) throw new ArdesiaError('USER_NAME_RESERVED', `${body.name} is a reserved name`);
    if (await this.row(body.name)) throw new ArdesiaError('USER_EXISTS', `user ${body.name} exists`);
    kioskRolesCheck(body.name, body.kiosk === true, normalizeRoles(body.roles));
    if (body.kiosk && body.password !== undefined) throw new ArdesiaError('KIOSK_ACCOUNT_ADMIN', `${body.name} is a kiosk account: it has no password`);
    // A kiosk account gets a random password nobody sees: password logins are refused for it anyway (login.ts).
    const generated = body.password === undefined && !body.kiosk ? passwordGenerate() : undefined;
    const password = body.password ?? generated ?? passwordGenerate();
    passwordCheck(password, body.name);
    const groups = await this.groupsExisting(body.groups ?? []);
    const hash = await passwordHash(password);
    const roles = normalizeRoles(body.roles);
    await this.db.transaction().execute(async (tx) => {
      await tx
        .insertInto('users')
        .values({
          name: body.name,
          full_name: body.fullName ?? '',
          password_hash: hash,
          roles: JSON.stringify(roles),
          disabled: 0,
          keyboard_layout: body.keyboardLayout ?? 'us',
          created_at: now(),
          last_login_at: null,
          kiosk: body.kiosk ? 1 : 0,
        })
        .execute();
      if (groups.length) await tx.insertInto('user_groups').values(groups.map((group) => ({ user: body.name, group }))).execute();
    });
    await auditAppend(this.db, actor.principal, 'user.create', body.name, { roles, groups, generatedPassword: generated !== undefined }, actor.address);
    const view = await this.show(body.name);
    return generated === undefined ? view : { ...view, password: generated };
  }

  async update(name: string, patch: UserPatchBody, actor: Actor): Promise<UserView> {
    const row = await this.rowOrThrow(name);
    const groups = patch.groups === undefined ? undefined : await this.groupsExisting(patch.groups);
    const kiosk = patch.kiosk ?? row.kiosk === 1;
    kioskRolesCheck(name, kiosk, patch.roles === undefined ? rolesOf(row) : normalizeRoles(patch.roles));
    const set: Partial<Omit<UserTable, 'created_at' | 'kiosk'>> & { kiosk?: number } = {};
    if (patch.kiosk !== undefined) set.kiosk = patch.kiosk ? 1 : 0;
    if (patch.roles !== undefined) set.roles = JSON.stringify(normalizeRoles(patch.roles));
    if (patch.disabled !== undefined) set.disabled = patch.disabled ? 1 : 0;
    if (patch.fullName !== undefined) set.full_name = patch.fullName;
    if (patch.keyboardLayout !== undefined) set.keyboard_layout = patch.keyboardLayout;
    await this.db.transaction().execute(async (tx) => {
      if (Object.keys(set).length) await tx.updateTable('users').set(set).where('name', '=', name).execute();
      if (groups !== undefined) {
        await tx.deleteFrom('user_groups').where('user', '=', name).execute();
        if (groups.length) await tx.insertInto('user_groups').values(groups.map((group) => ({ user: name, group }))).execute();
      }
    });
    // A disabled user is out at once: browser sessions and login tokens stop working.
    if (patch.disabled === true && row.disabled === 0) await this.credentialsRevoke(name, 'the account was disabled');
    // Made a kiosk account or made an ordinary one again: the sessions and tokens of its old kind end.
    if (patch.kiosk !== undefined && patch.kiosk !== (row.kiosk === 1)) await this.credentialsRevoke(name, 'the account changed kind (kiosk)');
    await auditAppend(this.db, actor.principal, 'user.update', name, patch, actor.address);
    return this.show(name);
  }

  async passwordSet(name: string, password: string, actor: Actor): Promise<void> {
    if ((await this.rowOrThrow(name)).kiosk === 1) throw new ArdesiaError('KIOSK_ACCOUNT_ADMIN', `${name} is a kiosk account: it has no password`);
    passwordCheck(password, name);
    await this.db.updateTable('users').set({ password_hash: await passwordHash(password) }).where('name', '=', name).execute();
    await auditAppend(this.db, actor.principal, 'user.password', name, undefined, actor.address);
  }

  async delete(name: string, actor: Actor): Promise<{ deleted: string }> {
    await this.rowOrThrow(name);
    await this.credentialsRevoke(name, 'the account was deleted');
    await this.db.deleteFrom('users').where('name', '=', name).execute();
    await auditAppend(this.db, actor.principal, 'user.delete', name, undefined, actor.address);
    return { deleted: name };
  }

  /**
   * Ends the web user's browser sessions and login tokens (never a unix account's token file, a different principal),
   * except the credential in `keep`, and closes the live connections they opened.
   */
  async credentialsRevoke(name: string, reason: string, keep: CredentialKeep = {}): Promise<void> {
    let sessions = this.db.deleteFrom('sessions').where('user', '=', name);
    if (keep.session !== undefined) sessions = sessions.where('id_sha256', '!=', keep.session);
    await sessions.execute();
    let tokens = this.db.deleteFrom('api_tokens').where('principal', '=', name).where('kind', '=', 'user');
    if (keep.tokenId !== undefined) tokens = tokens.where('token_sha256', '!=', keep.tokenId);
    await tokens.execute();
    this.connections.closeOf(name, reason, keep);
  }

  async groupList(): Promise<GroupView[]> {
    const groups = await this.db.selectFrom('groups').select('name').orderBy('name').execute();
    const members = await this.db.selectFrom('user_groups').selectAll().orderBy('user').execute();
    return groups.map((g) => ({ name: g.name, members: members.filter((m) => m.group === g.name).map((m) => m.user) }));
  }

  async groupCreate(name: string, actor: Actor): Promise<GroupView> {
    if (await this.db.selectFrom('groups').select('name').where('name', '=', name).executeTakeFirst()) {
      throw new ArdesiaError('GROUP_EXISTS', `group ${name} exists`);
    }
    await this.db.insertInto('groups').values({ name, created_at: now() }).execute();
    await auditAppend(this.db, actor.principal, 'group.create', name, undefined, actor.address);
    return { name, members: [] };
  }

  async groupDelete(name: string, actor: Actor): Promise<{ deleted: string }> {
    const r = await this.db.deleteFrom('groups').where('name', '=', name).executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) throw new ArdesiaError('GROUP_NOT_FOUND', `there is no group ${name}`);
    await auditAppend(this.db, actor.principal, 'group.delete', name, undefined, actor.address);
    return { deleted: name };
  }

  private async groupsExisting(names: readonly string[]): Promise<string[]> {
    const wanted = [...new Set(names)].sort();
    if (wanted.length === 0) return [];
    const found = new Set((await this.db.selectFrom('groups').select('name').where('name', 'in', wanted).execute()).map((g) => g.name));
    const missing = wanted.filter((g) => !found.has(g));
    if (missing.length) throw new ArdesiaError('GROUP_NOT_FOUND', `no such group: ${missing.join(', ')}`);
    return wanted;
  }
}

export interface EnsureUserInput {
  name: string;
  password?: string;
  roles: Role[];
  groups: string[];
}

/** Creates the user (and missing groups) unless it exists; for `npm start`'s demo accounts. Existing users are left alone. */
export async function ensureUser(store: Store, input: EnsureUserInput): Promise<{ created: boolean; password?: string }> {
  const users = new UsersService(store);
  if (await users.row(input.name)) return { created: false };
  const actor: Actor = { principal: ROOT_PRINCIPAL, address: 'local' };
  const existing = new Set((await users.groupList()).map((g) => g.name));
  for (const group of input.groups) if (!existing.has(group)) await users.groupCreate(group, actor);
  const made = await users.create({ name: input.name, password: input.password, roles: input.roles, groups: input.groups }, actor);
  return made.password === undefined ? { created: true } : { created: true, password: made.password };
}

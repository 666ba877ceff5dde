// Directory logins for the daemon: the password check behind login.ts, just-in-time users, `directory test`, the sync.
import type { Logger } from 'pino';
import { auditAppend } from '../audit/log.js';
import type { UserRow, UsersService } from '../auth/users.js';
import { ArdesiaError } from '../contract/errors.js';
import type { DirectorySourceView, DirectorySyncResult, DirectoryTestResult } from '../contract/directory.js';
import { now } from '../lib/time.js';
import { adAccountRefusal } from './account-state.js';
import { DirectorySource, type DirectoryEntry } from './client.js';
import type { DirectoryFile } from './config.js';
import { entitlementsOf } from './mapping.js';
import { ardesiaNameFor } from './names.js';
import { type RefPolicy, settingsOf, storedSourcesRead } from './stored.js';

/** Not an argon2 PHC string: a directory user's row can never pass the local password check. */
export const DIRECTORY_PASSWORD_HASH = '!directory';
const KEYBOARD_LAYOUT = /^[a-z]{2,8}([-_][A-Za-z0-9]{1,12})?$/;

interface SourceState {
  reachable: boolean | null;
  checkedAt: string | null;
  lastSyncAt: string | null;
  lastSyncError: string | null;
  usersFound: number | null;
}

const SYSTEM = { principal: 'directory', address: 'local' };

/** The sync interval when there is no --directory file to say it (seconds). */
const DEFAULT_SYNC_SECONDS = 900;

export class DirectoryService {
  /** Sources of the --directory file: fixed for the daemon's life, never edited through the API. */
  readonly fileSources: DirectorySource[];
  /** Sources made in the console, re-read from the store before each use so every host of a cluster sees the same. */
  private stored = new Map<string, { source: DirectorySource; version: string; secret: boolean }>();
  private readonly state = new Map<string, SourceState>();
  private timer: NodeJS.Timeout | undefined;
  private syncing: Promise<DirectorySyncResult[]> | undefined;

  constructor(
    readonly users: UsersService,
    private readonly file: DirectoryFile | undefined,
    readonly log: Logger,
    private readonly clock: () => number = Date.now,
    /** The file's path as the console shows it ("from FILE"). */
    readonly filePath?: string,
    /** The references a console source may use (stored.ts). */
    readonly refPolicy: RefPolicy = { secretDirs: [], env: process.env },
  ) {
    this.fileSources = (file?.sources ?? []).map((s) => new DirectorySource(s));
    for (const s of this.fileSources) this.stateOf(s.name);
  }

  /** Every source, the file's first (it wins a name at start). */
  get sources(): DirectorySource[] {
    return [...this.fileSources, ...[...this.stored.values()].map((s) => s.source)];
  }

  isFileSource(name: string): boolean {
    return this.fileSources.some((s) => s.name === name);
  }

  /** Whether the console's source has a literal bind password kept in the store. */
  hasStoredSecret(name: string): boolean {
    return this.stored.get(name)?.secret ?? false;
  }

  stateOf(name: string): SourceState {
    let st = this.state.get(name);
    if (!st) this.state.set(name, (st = { reachable: null, checkedAt: null, lastSyncAt: null, lastSyncError: null, usersFound: null }));
    return st;
  }

  /** Re-reads the console's sources (a small table): a source made, changed or removed on any host is used at once. */
  async refresh(): Promise<void> {
    const rows = await storedSourcesRead(this.users.db);
    const next = new Map<string, { source: DirectorySource; version: string; secret: boolean }>();
    for (const [name, row] of rows) {
      if (this.isFileSource(name)) continue; // the file wins: a row of the same name (made before the file named it) is ignored
      const had = this.stored.get(name);
      if (had?.version === row.version) next.set(name, had);
      else {
        next.set(name, { source: new DirectorySource(row.config, row.secret), version: row.version, secret: row.secret !== undefined });
        this.state.delete(name); // new settings: the old state says nothing about them
      }
    }
    for (const name of this.stored.keys()) if (!next.has(name)) this.state.delete(name);
    this.stored = next;
  }

  /** The periodic sync (syncIntervalSeconds; 0 = only on demand), first run at once so the console has a state. */
  start(): void {
    const run = () => void this.sync().catch((err) => this.log.warn({ err }, 'directory sync failed'));
    run();
    const seconds = this.file?.syncIntervalSeconds ?? DEFAULT_SYNC_SECONDS;
    if (seconds > 0) this.timer = setInterval(run, seconds * 1000).unref();
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.syncing?.catch(() => undefined);
  }

  mark(source: string, reachable: boolean): void {
    const s = this.stateOf(source);
    s.reachable = reachable;
    s.checkedAt = now();
  }

  /**
   * The password check for a name that is not a local account: the user's row (made or updated from the directory)
   * when a source has the name and the bind with the password works; undefined for an unknown name or a wrong password.
   * Throws DIRECTORY_UNREACHABLE (no source answered where one could have the name), DIRECTORY_ACCOUNT_* and DIRECTORY_NAME_TAKEN.
   */
  async passwordLogin(typed: string, password: string): Promise<UserRow | undefined> {
    await this.refresh();
    let unreachable: ArdesiaError | undefined;
    for (const source of this.sources.filter((s) => s.serves(typed))) {
      let entry: DirectoryEntry | undefined;
      try {
        entry = await source.authenticate(typed, password, this.clock());
        this.mark(source.name, true);
      } catch (err) {
        if (err instanceof ArdesiaError && err.code === 'DIRECTORY_UNREACHABLE') {
          this.mark(source.name, false);
          unreachable ??= err;
          continue;
        }
        if (err instanceof ArdesiaError && err.code === 'LOGIN_FAILED') return undefined;
        if (err instanceof ArdesiaError) await auditAppend(this.users.db, 'anonymous', 'directory.login-refused', typed, { source: source.name, code: err.code });
        throw err;
      }
      if (entry) return this.provision(source, entry);
    }
    // The user may be in the source that did not answer: say so, never "wrong password".
    if (unreachable) throw new ArdesiaError('DIRECTORY_UNREACHABLE', 'the directory cannot be reached; try again later', { detail: unreachable.message });
    return undefined;
  }

  /** The Ardesia row bound to this entry's stable id, made at the first login; groups, roles and names follow the directory. */
  private async provision(source: DirectorySource, entry: DirectoryEntry): Promise<UserRow> {
    const ent = entitlementsOf(entry.groupDns, source.config);
    const roles = JSON.stringify(ent.admin ? ['admin', 'user'] : ['user']);
    const bound = await this.boundRow(source.name, entry.stableId);
    let name = bound?.name;
    if (!name) {
      name = ardesiaNameFor(entry.login);
      if (!name) throw new ArdesiaError('DIRECTORY_NAME_TAKEN', `the directory name ${entry.login} cannot be an Ardesia user name`, undefined, 'Ask the directory administrator for a login name of letters, digits, dot, dash or underscore.');
      const holder = await this.users.row(name);
      if (holder) {
        await auditAppend(this.users.db, SYSTEM.principal, 'directory.name-taken', name, { source: source.name, dn: entry.dn, local: holder.directory_source === null });
        throw new ArdesiaError('DIRECTORY_NAME_TAKEN', `the name ${name} belongs to ${holder.directory_source === null ? 'a local Ardesia account' : `another account of directory ${holder.directory_source}`}; the directory user ${entry.dn} is not merged with it`);
      }
    }
    await this.groupsEnsure(ent.groups);
    const layout = entry.keyboardLayout && KEYBOARD_LAYOUT.test(entry.keyboardLayout) ? entry.keyboardLayout : undefined;
    await this.users.db.transaction().execute(async (tx) => {
      if (bound) {
        await tx
          .updateTable('users')
          .set({ full_name: entry.displayName, roles, directory_login: entry.login, ...(layout ? { keyboard_layout: layout } : {}) })
          .where('name', '=', name!)
          .execute();
      } else {
        await tx
          .insertInto('users')
          .values({
            name: name!,
            full_name: entry.displayName,
            password_hash: DIRECTORY_PASSWORD_HASH,
            roles,
            disabled: 0,
            keyboard_layout: layout ?? 'us',
            created_at: now(),
            last_login_at: null,
            directory_source: source.name,
            directory_id: entry.stableId,
            directory_login: entry.login,
          })
          .execute();
      }
      await tx.deleteFrom('user_groups').where('user', '=', name!).execute();
      if (ent.groups.length) await tx.insertInto('user_groups').values(ent.groups.map((group) => ({ user: name!, group }))).execute();
    });
    if (!bound) await auditAppend(this.users.db, SYSTEM.principal, 'directory.user-create', name, { source: source.name, id: entry.stableId, groups: ent.groups, admin: ent.admin });
    return (await this.users.row(name))!;
  }

  private async boundRow(source: string, stableId: string): Promise<UserRow | undefined> {
    return this.users.db.selectFrom('users').selectAll().where('directory_source', '=', source).where('directory_id', '=', stableId).executeTakeFirst();
  }

  /** Mapped Ardesia groups are made when missing, so pools can entitle them before anyone logged in. */
  private async groupsEnsure(groups: readonly string[]): Promise<void> {
    if (!groups.length) return;
    const have = new Set((await this.users.db.selectFrom('groups').select('name').where('name', 'in', [...groups]).execute()).map((g) => g.name));
    for (const g of groups.filter((x) => !have.has(x))) await this.users.groupCreate(g, SYSTEM).catch(() => undefined); // a concurrent login made it
  }

  /** What a login of this name would find, without a password: for `ardesia directory test USER`. */
  async test(typed: string): Promise<DirectoryTestResult> {
    await this.refresh();
    for (const source of this.sources.filter((s) => s.serves(typed))) {
      const entry = await source.lookup(typed);
      this.mark(source.name, true);
      if (!entry) continue;
      const ent = entitlementsOf(entry.groupDns, source.config);
      const bound = await this.boundRow(source.name, entry.stableId);
      const wanted = bound?.name ?? ardesiaNameFor(entry.login);
      const holder = bound || !wanted ? undefined : await this.users.row(wanted);
      const refusal = source.config.kind === 'ad' ? adAccountRefusal(entry.attrs, this.clock()) : undefined;
      return {
        source: source.name,
        dn: entry.dn,
        stableId: entry.stableId,
        login: entry.login,
        displayName: entry.displayName,
        directoryGroups: entry.groupDns,
        groups: ent.groups,
        admin: ent.admin,
        ardesiaUser: wanted ?? null,
        existing: bound !== undefined,
        refusal: refusal ?? (holder ? 'name-taken' : null),
      };
    }
    throw new ArdesiaError('DIRECTORY_USER_NOT_FOUND', `no directory source has the user ${typed}`);
  }

  /** One sync now (a running one is joined): every bound user re-read by stable id; gone or refused → sessions and tokens end. */
  sync(): Promise<DirectorySyncResult[]> {
    this.syncing ??= this.syncAll().finally(() => (this.syncing = undefined));
    return this.syncing;
  }

  private async syncAll(): Promise<DirectorySyncResult[]> {
    await this.refresh();
    const results: DirectorySyncResult[] = [];
    for (const source of this.sources) results.push(await this.syncSource(source));
    return results;
  }

  private async syncSource(source: DirectorySource): Promise<DirectorySyncResult> {
    const st = this.stateOf(source.name);
    const result: DirectorySyncResult = { source: source.name, ok: false, checked: 0, updated: 0, ended: [], error: null };
    try {
      st.usersFound = await source.userCount();
      this.mark(source.name, true);
      const rows = await this.users.db.selectFrom('users').selectAll().where('directory_source', '=', source.name).orderBy('name').execute();
      for (const row of rows) {
        const entry = await source.lookupById(row.directory_id!);
        result.checked++;
        const refusal = entry && source.config.kind === 'ad' ? adAccountRefusal(entry.attrs, this.clock()) : undefined;
        if (!entry || refusal) {
          await this.users.credentialsRevoke(row.name, entry ? `the directory account is ${refusal}` : 'the directory account was removed');
          await auditAppend(this.users.db, SYSTEM.principal, 'directory.user-ended', row.name, { source: source.name, reason: entry ? refusal : 'removed' });
          result.ended.push(row.name);
          continue;
        }
        const before = JSON.stringify([row.roles, await this.users.groupsOf(row.name), row.full_name]);
        const after = await this.provision(source, entry);
        if (JSON.stringify([after.roles, await this.users.groupsOf(after.name), after.full_name]) !== before) result.updated++;
      }
      result.ok = true;
      st.lastSyncError = null;
    } catch (err) {
      if (err instanceof ArdesiaError && err.code === 'DIRECTORY_UNREACHABLE') this.mark(source.name, false);
      result.error = (err as Error).message;
      st.lastSyncError = result.error;
      this.log.warn({ source: source.name, err: result.error }, 'directory sync failed');
    }
    st.lastSyncAt = now();
    return result;
  }

  /** The console's table: each source with its state. */
  async list(): Promise<DirectorySourceView[]> {
    await this.refresh();
    const counts = await this.users.db.selectFrom('users').select(['directory_source']).where('directory_source', 'is not', null).execute();
    return this.sources.map((s) => {
      const st = this.stateOf(s.name);
      const fromFile = this.isFileSource(s.name);
      const shown = settingsOf(s.config);
      return {
        name: s.name,
        origin: fromFile ? 'file' : 'console',
        file: fromFile ? (this.filePath ?? null) : null,
        bindPassword: shown.bindPassword,
        settings: shown.settings,
        kind: s.config.kind,
        urls: s.config.urls,
        tls: s.config.urls.every((u) => u.toLowerCase().startsWith('ldaps://')) ? 'ldaps' : s.config.startTls ? 'starttls' : 'none',
        reachable: st.reachable,
        checkedAt: st.checkedAt,
        lastSyncAt: st.lastSyncAt,
        lastSyncError: st.lastSyncError,
        usersFound: st.usersFound,
        ardesiaUsers: counts.filter((c) => c.directory_source === s.name).length,
      };
    });
  }
}

// API tokens: random secrets handed to local users through files only they can read (the way a
// root-only socket is, for vmd); the store keeps their sha256, never the secret.
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Store } from '../store/db.js';
import { lookupAccount } from './unix-accounts.js';

export const ROOT_PRINCIPAL = 'root';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

export function rootTokenPath(dataDir: string): string {
  return join(dataDir, 'root.token');
}

export function userTokenPath(dataDir: string, user: string): string {
  return join(dataDir, 'tokens', `${user}.token`);
}

type FileTokenKind = 'root' | 'unix';

async function tokenOwner(db: Store, token: string): Promise<{ principal: string; kind: string } | undefined> {
  return db.selectFrom('api_tokens').select(['principal', 'kind']).where('token_sha256', '=', sha256(token)).executeTakeFirst();
}

async function issueToken(db: Store, kind: FileTokenKind, principal: string, path: string): Promise<string> {
  if (existsSync(path)) {
    const current = readFileSync(path, 'utf8').trim();
    const owner = await tokenOwner(db, current);
    if (owner?.principal === principal && owner.kind === kind) return current;
  }
  const token = randomBytes(32).toString('base64url');
  await db
    .insertInto('api_tokens')
    .values({ token_sha256: sha256(token), principal, kind, created_at: new Date().toISOString(), expires_at: null })
    .execute();
  writeFileSync(path, `${token}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return token;
}

export async function ensureRootToken(db: Store, dataDir: string): Promise<string> {
  return issueToken(db, 'root', ROOT_PRINCIPAL, rootTokenPath(dataDir));
}

/** A token file for a VM owner, readable by that Unix user only; skipped for unknown users. */
export async function ensureUserToken(db: Store, dataDir: string, user: string): Promise<boolean> {
  const account = lookupAccount(user);
  if (!account) return false;
  const dir = join(dataDir, 'tokens');
  mkdirSync(dir, { recursive: true, mode: 0o711 });
  chmodSync(dir, 0o711);
  const path = userTokenPath(dataDir, user);
  await issueToken(db, 'unix', user, path);
  chownSync(path, account.uid, account.gid);
  chmodSync(path, 0o400);
  return true;
}

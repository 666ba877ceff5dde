// The auth domain's services for the daemon, and what other domains import from it.
import type { Store } from '../store/db.js';
import { type LoginOptions, LoginService } from './login.js';
import { UsersService } from './users.js';

export { ensureUser, isAdmin, UsersService, type Actor, type EnsureUserInput } from './users.js';
export { LoginService } from './login.js';
export { principalResolve } from './principal.js';

export function authServicesCreate(store: Store, opts: LoginOptions = {}): { users: UsersService; login: LoginService } {
  const users = new UsersService(store);
  return { users, login: new LoginService(users, opts) };
}

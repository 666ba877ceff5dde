// Our native helpers (native/*.c), built by setup into .cache/native/ at the repository's root (git-ignored).
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';

export const NATIVE_HELPERS_DIR = join(import.meta.dirname, '..', '..', '..', '.cache', 'native');

/** The helper `name` to run: `envVar` names another path, or "off" disables it; no path (and `why`) when disabled or
 *  missing, for the caller's fallback and its message. */
export function nativeHelper(name: string, envVar: string, env: NodeJS.ProcessEnv = process.env): { path?: string; why?: string } {
  const wanted = env[envVar];
  if (wanted === 'off') return { why: `disabled by ${envVar}=off` };
  const path = wanted || join(NATIVE_HELPERS_DIR, name);
  try {
    accessSync(path, constants.X_OK);
    return { path };
  } catch {
    return { why: `${path} is missing (run \`node scripts/setup.mjs\` to build it from native/${name}.c)` };
  }
}

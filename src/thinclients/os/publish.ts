// Where built thin-client OS versions live: DATA_DIR/thinclient/<version>/ and one `current-<arch>`
// symlink per architecture, switched atomically (rename over it), so the boot server never sees half a version.
import { existsSync, mkdirSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { ThinClientArch } from './plan.js';

export function thinClientRoot(dataDir: string): string {
  return join(dataDir, 'thinclient');
}

/** A fresh staging folder next to the versions (same file system, so the final rename is atomic). */
export function stagingDir(dataDir: string): string {
  const dir = join(thinClientRoot(dataDir), `.building-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Moves a built staging folder to its version folder and points `current-<arch>` at it; returns the version folder. */
export function installVersion(dataDir: string, staging: string, version: string, arch: ThinClientArch): string {
  const root = thinClientRoot(dataDir);
  const versionDir = join(root, version);
  if (existsSync(versionDir)) rmSync(versionDir, { recursive: true, force: true });
  renameSync(staging, versionDir);
  const temp = join(root, `.current-${process.pid}`);
  rmSync(temp, { force: true });
  symlinkSync(version, temp);
  renameSync(temp, join(root, `current-${arch}`));
  return versionDir;
}

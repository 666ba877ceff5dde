// Where things live in the data folder; every name passes safeName, so none can leave it.
import { join } from 'node:path';
import { ArdesiaError } from '../contract/errors.js';

export type NameKind = 'image' | 'user' | 'pool' | 'desktop';
const SAFE_NAME = /^[a-z0-9][a-z0-9_.-]{0,62}$/i;

/** The name itself when it is safe as one path component; NAME_INVALID otherwise. */
export function safeName(kind: NameKind, name: string): string {
  if (typeof name !== 'string' || !SAFE_NAME.test(name) || name === '.' || name === '..') {
    throw new ArdesiaError('NAME_INVALID', `${kind} name ${JSON.stringify(name)} is not allowed: use 1-63 letters, digits, '.', '-' or '_', starting with a letter or digit`);
  }
  return name;
}

function versionNumber(n: number): number {
  if (!Number.isSafeInteger(n) || n < 1) throw new ArdesiaError('NAME_INVALID', `image version ${n} must be a whole number from 1`);
  return n;
}

export interface DataPaths {
  imageDir(image: string): string;
  imageVersion(image: string, n: number): string;
  desktopSystem(desktop: string): string;
  home(user: string): string;
  maintenance(image: string, n: number): string;
}

export function dataPaths(dataDir: string): DataPaths {
  return {
    imageDir: (image) => join(dataDir, 'images', safeName('image', image)),
    imageVersion: (image, n) => join(dataDir, 'images', safeName('image', image), `${versionNumber(n)}.qcow2`),
    desktopSystem: (desktop) => join(dataDir, 'desktops', safeName('desktop', desktop), 'system.qcow2'),
    home: (user) => join(dataDir, 'homes', safeName('user', user), 'home.qcow2'),
    maintenance: (image, n) => join(dataDir, 'maintenance', safeName('image', image), `${versionNumber(n)}.qcow2`),
  };
}

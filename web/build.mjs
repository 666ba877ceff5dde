#!/usr/bin/env node
// Builds the web app into <cwd>/dist/web with Vite, skipped when none of its inputs changed since the last
// build (the stamp is a sha256 over the web sources, the shared src/ files it imports and the lockfile).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = process.cwd();
// The sources' real folder: a private build root links web/ to the shared tree, whose src/ the app imports.
const webDir = realpathSync(join(root, 'web'));
const sourceRoot = dirname(webDir);
const outDir = join(root, 'dist', 'web');
const stampFile = join(outDir, '.inputs-sha256');
// Shared code the app imports from src/ (state predicates, wire types).
const SHARED_INPUTS = ['src/contract', 'src/desktops/lifecycle.ts', 'src/thinclients/view.ts', 'package-lock.json'];

function filesUnder(path) {
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path)
    .sort()
    .flatMap((entry) => (entry === 'node_modules' ? [] : filesUnder(join(path, entry))));
}

function inputsDigest() {
  const hash = createHash('sha256');
  for (const file of [webDir, ...SHARED_INPUTS.map((p) => join(sourceRoot, p))].flatMap(filesUnder)) {
    hash.update(relative(sourceRoot, file)).update('\0').update(readFileSync(file)).update('\0');
  }
  return hash.digest('hex');
}

const digest = inputsDigest();
const force = process.argv.includes('--force');
if (!force && existsSync(join(outDir, 'index.html')) && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === digest) {
  process.exit(0);
}
// Type-check first: Vite only strips types.
const typecheck = spawnSync(process.execPath, [join(sourceRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(webDir, 'tsconfig.json')], { stdio: 'inherit' });
if (typecheck.status !== 0) {
  console.error('web: type errors (above); not built');
  process.exit(1);
}
const { build } = await import('vite');
await build({ configFile: resolve(webDir, 'vite.config.ts'), logLevel: 'warn' });
writeFileSync(stampFile, digest);
console.log(`web app built into ${relative(root, outDir) || outDir}`);

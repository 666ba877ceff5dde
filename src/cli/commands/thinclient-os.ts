// `ardesia thinclient build`: builds the thin-client OS locally (as root, like `ardesia serve`) into
// DATA_DIR/thinclient/<version>/ and switches `current-<arch>` to it, or into --out.
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { type GlobalOptions, resolveDataDir } from '../client.js';
import { ARCHES, flag, oneOf } from '../options.js';

function repoCacheDir(): string {
  return resolve(process.env.ARDESIA_REPO_ROOT ?? process.cwd(), '.cache', 'thinclient');
}

/** --portal-ca FILE, else the data folder's CA; undefined when neither exists. */
async function portalCaFor(dataDir: string, caFile: string | undefined): Promise<string | undefined> {
  const { ardesiaCaPem } = await import('../../tls/certs.js');
  if (caFile === undefined) return ardesiaCaPem(dataDir);
  const { readFileSync } = await import('node:fs');
  const { ArdesiaError } = await import('../../contract/errors.js');
  try {
    return readFileSync(resolve(caFile), 'utf8');
  } catch (err) {
    throw new ArdesiaError('THINCLIENT_CA_INVALID', `cannot read --portal-ca ${caFile}: ${(err as Error).message}`);
  }
}

export function addThinclientBuildCommand(thinclient: Command): void {
  thinclient
    .command('build')
    .description('build the thin-client OS (kernel, initramfs, root.squashfs) from Debian packages; cached. Build both architectures for a mixed fleet: each PC boots amd64 if its CPU has 64-bit mode, else i386')
    .addOption(flag('--arch <arch>', ARCHES.join(' or '), oneOf(ARCHES), 'amd64'))
    .option('--out <dir>', 'write here instead of DATA_DIR/thinclient/<version>/ (no `current-<arch>` switch)')
    .option('--cache <dir>', 'build cache (default .cache/thinclient, or DATA_DIR/cache/thinclient when run elsewhere)')
    .option('--portal-ca <file>', "the CA (PEM) the kiosk verifies the portal's HTTPS certificate with (default DATA_DIR/tls/ca.crt, made at the daemon's first start)")
    .action(async (flags: { arch: (typeof ARCHES)[number]; out?: string; cache?: string; portalCa?: string }, cmd: Command) => {
      const { buildThinClientOs } = await import('../../thinclients/os/build.js');
      const { installVersion, stagingDir } = await import('../../thinclients/os/publish.js');
      const dataDir = resolveDataDir(cmd.optsWithGlobals<GlobalOptions>());
      const outDir = flags.out ? resolve(flags.out) : stagingDir(dataDir);
      const cacheDir = flags.cache ? resolve(flags.cache) : process.env.ARDESIA_REPO_ROOT || flags.out ? repoCacheDir() : join(dataDir, 'cache', 'thinclient');
      const portalCaPem = await portalCaFor(dataDir, flags.portalCa);
      if (!portalCaPem) {
        process.stderr.write(`warning: no ${join(dataDir, 'tls', 'ca.crt')} (the daemon makes it at its first start with --listen) and no --portal-ca: this thin-client OS verifies no portal certificate, so its kiosk works only with a plain-HTTP portal (--insecure-http) and passwords typed on it cross the network in clear\n`);
      }
      const started = Date.now();
      const built = await buildThinClientOs({
        portalCaPem,
        arch: flags.arch,
        outDir,
        cacheDir,
        progress: (stage, fraction) => process.stderr.write(`[${fraction === undefined ? ' ..' : `${Math.round(fraction * 100)}`.padStart(3)}%] ${stage}\n`),
      });
      const dir = flags.out ? outDir : installVersion(dataDir, outDir, built.manifest.version, flags.arch);
      const m = built.manifest;
      const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
      process.stdout.write(
        `thin-client OS ${m.version} (${m.arch}, kernel ${m.kernelRelease}, ${m.packageCount} packages) in ${dir}\n` +
          `  vmlinuz ${mib(m.files.vmlinuz.size)}, initrd.img ${mib(m.files['initrd.img'].size)}, root.squashfs ${mib(m.files['root.squashfs'].size)}\n` +
          `  portal CA: ${m.portalCa ? `${m.portalCa.subject} SHA-256 ${m.portalCa.sha256}` : 'none (plain-HTTP portal only)'}\n` +
          `  cache: tree ${built.cached.tree ? 'warm' : 'built'}, outputs ${built.cached.outputs ? 'warm' : 'built'}; ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
      );
    });
}

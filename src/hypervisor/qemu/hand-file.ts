// Handing a file to a running QEMU (a home volume at login): the daemon opens it, native/qmp-add-fd.c passes
// the descriptors over the VM's second QMP monitor (SCM_RIGHTS), and QEMU opens `/dev/fdset/N`, never a name.
import { spawn } from 'node:child_process';
import { accessSync, closeSync, constants, fstatSync, openSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ArdesiaError } from '../../contract/errors.js';
import { helperEnv, runAsText, unprivilegedAccount } from '../../lib/unprivileged-account.js';

/** Where setup builds the helper (git-ignored); ARDESIA_QMP_ADD_FD overrides. */
export const QMP_ADD_FD_DEFAULT_PATH = join(import.meta.dirname, '..', '..', '..', '..', '.cache', 'native', 'qmp-add-fd');

function helperBinary(env: NodeJS.ProcessEnv = process.env): string {
  const path = env.ARDESIA_QMP_ADD_FD || QMP_ADD_FD_DEFAULT_PATH;
  try {
    accessSync(path, constants.X_OK);
    return path;
  } catch {
    throw new ArdesiaError('VM_MONITOR_FAILED', `${path} is missing: run \`node scripts/setup.mjs\` to build it from native/qmp-add-fd.c`);
  }
}

/** The helper runs as the owner of the VM's runtime folder, the VM's own uid: no other uid enters that 0700 folder. */
function helperEnvFor(runtimeDir: string): NodeJS.ProcessEnv {
  const account = unprivilegedAccount();
  if (!account) return helperEnv();
  const owner = statSync(runtimeDir).uid;
  return { ...process.env, ARDESIA_RUN_AS: runAsText({ ...account, uid: owner === 0 ? account.uid : owner }) };
}

/** The fdset id (a number QEMU opens as /dev/fdset/N) holding `path` read-only and, if writable, read-write. */
export async function handFileToQemu(qmpFdSocket: string, path: string, writable: boolean): Promise<number> {
  const binary = helperBinary();
  const env = helperEnvFor(dirname(qmpFdSocket));
  const fds: number[] = [];
  try {
    for (const flags of writable ? [constants.O_RDONLY, constants.O_RDWR] : [constants.O_RDONLY]) {
      const fd = openSync(path, flags | constants.O_NONBLOCK | constants.O_NOFOLLOW);
      fds.push(fd);
      if (!fstatSync(fd).isFile()) throw new ArdesiaError('VM_SPEC_INVALID', `${path} is not a regular file`);
    }
    const child = spawn(binary, [qmpFdSocket, String(fds.length)], { stdio: ['ignore', 'pipe', 'pipe', ...fds], env });
    for (const fd of fds.splice(0)) closeSync(fd);
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString('utf8')));
    const code = await new Promise<number | null>((resolve) => {
      child.once('error', () => resolve(null));
      child.once('close', (c) => resolve(c));
    });
    const fdset = Number(out.trim());
    if (code !== 0 || !Number.isInteger(fdset) || out.trim() === '') {
      throw new ArdesiaError('VM_MONITOR_FAILED', `handing ${path} to QEMU failed: ${err.trim().slice(0, 500) || `exit ${code}`}`);
    }
    return fdset;
  } finally {
    for (const fd of fds) closeSync(fd);
  }
}

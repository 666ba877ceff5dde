// A consistent copy of a disk plugged into a running VM (a desktop's home, for a backup): QEMU's blockdev-backup (sync=full) into a qcow2 the
// daemon made and handed over by fd. The copy is the disk as it was when the job started (copy-before-write keeps
// the guest's later writes out of it): crash-consistent, as after a power cut; ext4's journal replays at next mount.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ArdesiaError } from '../contract/errors.js';
import type { VmRuntime } from './vm-runtime.js';
import { handFileToQemu } from './qemu/hand-file.js';

const run = promisify(execFile);
const COPY_NODE = 'home0-copy';
const JOB_ID = 'home0-copy';

interface QmpJobInfo {
  id: string;
  status: string;
  error?: string;
}

export async function diskCopyRunning(runtime: VmRuntime, node: string, target: string, sizeBytes: number): Promise<void> {
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', target, String(sizeBytes)]);
  const qmp = runtime.qmp;
  const fdset = await handFileToQemu(runtime.paths.qmpFd, target, true);
  try {
    await qmp.blockdevAdd({ driver: 'qcow2', 'node-name': COPY_NODE, file: { driver: 'file', filename: `/dev/fdset/${fdset}` } });
    try {
      await backupJob(runtime, node);
    } finally {
      await qmp.blockdevDel(COPY_NODE).catch(() => undefined);
    }
  } finally {
    await qmp.removeFd(fdset).catch(() => undefined);
  }
}

/** Runs the job to its end (JOB_STATUS_CHANGE → concluded), then reads its outcome and dismisses it. */
async function backupJob(runtime: VmRuntime, node: string): Promise<void> {
  const qmp = runtime.qmp;
  let onEvent: ((ev: { event: string; data?: Record<string, unknown> }) => void) | undefined;
  let onExit: (() => void) | undefined;
  const concluded = new Promise<void>((resolve, reject) => {
    onEvent = (ev) => {
      if (ev.event === 'JOB_STATUS_CHANGE' && ev.data?.id === JOB_ID && ev.data.status === 'concluded') resolve();
    };
    onExit = () => reject(new ArdesiaError('BACKUP_HOME_IN_USE', 'the desktop stopped while its home was being copied'));
    runtime.on('event', onEvent);
    runtime.once('exited', onExit);
  });
  try {
    await qmp.execute('blockdev-backup', { 'job-id': JOB_ID, device: node, target: COPY_NODE, sync: 'full', 'auto-dismiss': false, 'auto-finalize': true });
    // The event may have come before we listen for it on a fast copy: the job list says so too.
    const already = (await qmp.execute<QmpJobInfo[]>('query-jobs')).find((j) => j.id === JOB_ID);
    if (already?.status !== 'concluded') await concluded;
    const job = (await qmp.execute<QmpJobInfo[]>('query-jobs')).find((j) => j.id === JOB_ID);
    await qmp.execute('job-dismiss', { id: JOB_ID }).catch(() => undefined);
    if (job?.error) throw new ArdesiaError('BACKUP_FAILED', `QEMU could not copy the home: ${job.error}`);
  } finally {
    if (onEvent) runtime.off('event', onEvent);
    if (onExit) runtime.off('exited', onExit);
    concluded.catch(() => undefined);
  }
}

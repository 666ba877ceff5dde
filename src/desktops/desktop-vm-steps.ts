// The VM steps of a pool desktop's lifecycle effects (pool-machine.ts runs them): start by boot, start as a clone of
// the pool's restore template, stop, re-clone the system disk, first clone.
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { ArdesiaError } from '../contract/errors.js';
import type { Pool } from '../contract/pools.js';
import { type ServiceContext, vmRunning } from '../images/context.js';
import { verifiedVersionPath } from '../images/versions.js';
import { createLinkedClone, resetLinkedClone } from '../storage/index.js';
import { vmGet, vmHostOf } from '../store/vms.js';
import type { DesktopGuests } from './desktop-guests.js';
import { desktopVmSpec, resumedMessage, scratchHomeRenew } from './desktop-vm.js';
import type { PoolTemplates } from './pool-templates.js';
import { poolDesktopUpdate, type PoolDesktopRow } from './pool-repo.js';

const FORCE_STOP_WAIT_MS = 15_000;
const GRACEFUL_STOP_WAIT_MS = 60_000;
/** A restored clone's guest helper is connected within this time, or the restore failed. */
// Generous: a clone on an agent's host dials its guest channel through the agent (back-off up to 4 s), and on a host
// whose CPUs are saturated a TCG restore takes tens of seconds; a failed spare is retried only after FAILED_RETRY_MS.
const RESUMED_CONNECT_MS = 60_000;

export interface DesktopVmSteps {
  ctx: ServiceContext;
  templates: PoolTemplates;
  guests: DesktopGuests;
  log: Logger;
}

/** The host placement chose for the VM (recorded with its start), the same for its pool desktop. */
export async function recordHost(ctx: ServiceContext, row: PoolDesktopRow): Promise<void> {
  row.host = (await vmHostOf(ctx.db, row.name)) ?? hostname();
  await poolDesktopUpdate(ctx.db, row.name, { host: row.host });
}

/** Boots the desktop's VM (defined from the pool and the image's boot profile); its guest followed. */
export async function startDesktopVm(s: DesktopVmSteps, row: PoolDesktopRow, pool: Pool): Promise<void> {
  await verifiedVersionPath(s.ctx, row.image, row.version);
  await s.ctx.vms.define([await desktopVmSpec(s.ctx, pool, row.name, row.image, s.ctx.paths.desktopSystem(row.name))], () => `pool ${pool.name}`);
  if (!(await vmRunning(s.ctx, row.name))) await s.ctx.vms.start(row.name);
  await recordHost(s.ctx, row);
  await s.guests.watch(row.name);
}

/** A fresh overlay on the template's frozen one, the template's state loaded, then the guest told to take its own identity
 *  (it answers `ready`: the table's guest-ready). */
export async function restoreDesktopVm(s: DesktopVmSteps, row: PoolDesktopRow, pool: Pool): Promise<void> {
  // Checked again (its sha256 only when the files' stat changed since the machine's check).
  const template = await s.templates.forClone(pool, row.image, row.version);
  if (!template) throw new ArdesiaError('VM_STATE_INVALID', `pool ${pool.name}: its template is gone`);
  await resetLinkedClone(s.ctx.paths.desktopSystem(row.name), template.manifest.overlay.path);
  await s.ctx.vms.define([await desktopVmSpec(s.ctx, pool, row.name, row.image, s.ctx.paths.desktopSystem(row.name))], () => `pool ${pool.name}`);
  await s.ctx.vms.start(row.name, undefined, undefined, undefined, { fromTemplate: template });
  const runtime = s.ctx.vms.runtimeOf(row.name);
  // On an agent's host, its report of the clone says how long the restore took.
  s.templates.noteRestore(pool.name, runtime ? runtime.restoreMs : (await vmGet(s.ctx.db, row.name))?.observed?.restoreMs);
  if (runtime) s.log.info({ desktop: row.name, template: template.manifest.key, generation: await runtime.qmp.queryVmGenerationId().catch(() => null) }, `desktop ${row.name}: a clone of template ${template.manifest.key}`);
  await recordHost(s.ctx, row);
  if (!runtime) s.log.info({ desktop: row.name, template: template.manifest.key, host: row.host }, `desktop ${row.name}: a clone of template ${template.manifest.key} on host ${row.host}`);
  const guest = await s.guests.watch(row.name);
  await until(() => guest?.channel.isConnected ?? false, RESUMED_CONNECT_MS);
  if (!guest?.channel.isConnected) throw new ArdesiaError('VM_NOT_RUNNING', `the guest helper of ${row.name} is not connected after the restore`);
  guest.channel.send(resumedMessage(row.name, pool.network.mode !== 'none'));
}

/** Stops the desktop's VM if it runs; a graceful stop the guest does not finish in time is forced. */
export async function stopDesktopVm(s: Pick<DesktopVmSteps, 'ctx' | 'log'>, name: string, force: boolean): Promise<void> {
  if (!(await vmRunning(s.ctx, name))) return;
  try {
    await s.ctx.vms.stop(name, { force, waitMs: force ? FORCE_STOP_WAIT_MS : GRACEFUL_STOP_WAIT_MS });
  } catch (err) {
    if (force) throw err;
    s.log.warn({ err, desktop: name }, `desktop ${name} did not power off in time; stopping it by force`);
    await s.ctx.vms.stop(name, { force: true, waitMs: FORCE_STOP_WAIT_MS });
  }
}

/** What a reset stalled on its VM's stop says (the desktop's last error) until it goes on. */
export function resetStalledMessage(err: Error): string {
  return `the reset waits: its VM could not be stopped (${err.message}); it goes on once the VM's host stops it or is judged down`;
}

/** The VM is off: a fresh linked clone of the pool's target version replaces the system disk. */
export async function recloneDesktop(s: Pick<DesktopVmSteps, 'ctx' | 'log'>, row: PoolDesktopRow, pool: Pool, target: number | null): Promise<void> {
  await stopDesktopVm(s, row.name, true);
  const version = target ?? row.version;
  const base = await verifiedVersionPath(s.ctx, pool.image, version);
  await resetLinkedClone(s.ctx.paths.desktopSystem(row.name), base);
  await scratchHomeRenew(s.ctx.paths.desktopSystem(row.name), pool);
  row.version = version;
  row.image = pool.image;
  await poolDesktopUpdate(s.ctx.db, row.name, { version, image: pool.image });
}

/** First clone of a new desktop (state provisioning). */
export async function provisionDesktop(ctx: ServiceContext, row: PoolDesktopRow, pool: Pool): Promise<void> {
  const base = await verifiedVersionPath(ctx, row.image, row.version);
  const system = ctx.paths.desktopSystem(row.name);
  await mkdir(dirname(system), { recursive: true, mode: 0o700 });
  await createLinkedClone({ base, overlay: system });
  await scratchHomeRenew(system, pool);
}

/** Polls `test` every 50 ms until it holds or `timeoutMs` has passed. */
export async function until(test: () => boolean, timeoutMs: number): Promise<void> {
  for (const end = Date.now() + timeoutMs; !test() && Date.now() < end; ) await new Promise((r) => setTimeout(r, 50));
}

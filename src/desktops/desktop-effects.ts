// The steps a desktop's transition asks for (lifecycle.ts's effects), carried out on its VM, home and guest; a step
// that fails records why on the desktop and queues the event the table expects for it (boot-failed, session-ended …).
import { ArdesiaError, type ErrorCode } from '../contract/errors.js';
import type { Pool } from '../contract/pools.js';
import { attachHome, type DesktopHomeSteps, notifyGuest, releaseHome } from './desktop-home-steps.js';
import { type DesktopVmSteps, recloneDesktop, resetStalledMessage, restoreDesktopVm, startDesktopVm, stopDesktopVm } from './desktop-vm-steps.js';
import type { DesktopEffect, DesktopEvent } from './lifecycle.js';
import { poolDesktopUpdate, type PoolDesktopRow } from './pool-repo.js';
import type { PoolTemplates } from './pool-templates.js';
import { failpointOn } from '../lib/failpoint.js';

/** Failures a waiting connect answers with their own code: what the user can act on (their desktop elsewhere is ending). */
const PASSED_ON_CODES = new Set<ErrorCode>(['HOME_LEASE_HELD', 'HOME_LEASED']);
/** A clone's start that failed in these ways is the template's fault (its state did not load or fit): it is rebuilt. */
const RESTORE_FAILURES = new Set<string>(['VM_STATE_RESTORE_FAILED', 'VM_STATE_MISMATCH', 'VM_STATE_INVALID']);

/** What the machine (pool-machine.ts) lends its effects. */
export interface EffectRunner {
  steps: DesktopVmSteps;
  homeSteps: DesktopHomeSteps;
  templates: PoolTemplates;
  /** Records the step's failure on the desktop (its code kept when a waiting connect passes it on). */
  fail(row: PoolDesktopRow, message: string, code?: ErrorCode): Promise<void>;
  /** The reset waits for the VM's stop (its host out of reach): resumed once the VM is gone. */
  stalled(name: string): void;
  emit(event: 'login-stage', name: string, stage: 'spare' | 'home-attached'): void;
  emit(event: 'disconnect-clients', name: string): void;
  retire(row: PoolDesktopRow): Promise<void>;
}

/** `cause`: the desktop's last error before the event that brought this effect (why a restore failed). */
export async function runDesktopEffect(m: EffectRunner, row: PoolDesktopRow, pool: Pool, target: number | null, effect: DesktopEffect, queue: (event: DesktopEvent) => void, cause: string | null = null): Promise<void | 'stalled'> {
  const log = m.steps.log;
  switch (effect.kind) {
    case 'set-user':
      row.user = effect.user;
      return poolDesktopUpdate(m.steps.ctx.db, row.name, { user: effect.user });
    case 'restore-vm':
      return restoreDesktopVm(m.steps, row, pool).catch(async (err: ArdesiaError) => {
        if (err.code === 'VM_TEMPLATE_HOST_UNFIT') {
          log.info({ desktop: row.name, pool: pool.name }, `desktop ${row.name}: ${err.message}; it boots afresh there, the template is kept`);
          // Nothing ran: the disk the restore put on the template's overlay goes back to a clone of the gold version.
          return recloneDesktop(m.steps, row, pool, null).then(
            () => void queue({ type: 'restore-unfit' }),
            async (reclone: Error) => {
              await m.fail(row, `re-cloning the system disk for a boot failed: ${reclone.message}`);
              queue({ type: 'boot-failed' });
            },
          );
        }
        await m.fail(row, `the desktop's clone did not restore: ${err.message}`);
        queue({ type: RESTORE_FAILURES.has(err.code) ? 'restore-failed' : 'boot-failed' });
      });
    case 'template-rebuild':
      return void m.templates.rebuild(pool, row.image, row.version, cause ?? row.last_error ?? 'no reason recorded').catch((err: Error) => log.error({ err, pool: pool.name }, 'rebuilding the template failed'));
    case 'start-vm':
      return startDesktopVm(m.steps, row, pool).catch(async (err: Error) => {
        await m.fail(row, `the desktop's VM did not start: ${err.message}`);
        queue({ type: 'boot-failed' });
      });
    case 'stop-vm':
      if (row.state !== 'resetting') {
        // Its host out of reach, the stop is recorded and carried out at its return: the transition's bookkeeping goes
        // on (a failed boot's reservation let go); a home's release after it runs its own stop, which then refuses.
        return stopDesktopVm(m.steps, row.name, effect.force).catch(async (err: Error) => {
          log.warn({ err, desktop: row.name }, `desktop ${row.name}: its VM could not be stopped now`);
          await m.fail(row, `its VM could not be stopped: ${err.message}`);
        });
      }
      // Its host out of reach: the rest of the reset (the home's release first) waits until the VM is gone.
      return resetStop(m.steps, row.name, effect.force).catch(async (err: Error) => {
        m.stalled(row.name);
        await m.fail(row, resetStalledMessage(err));
        return 'stalled' as const;
      });
    case 'attach-home':
      m.emit('login-stage', row.name, 'spare');
      return attachHome(m.homeSteps, row, pool, effect.user).then(() => void m.emit('login-stage', row.name, 'home-attached')).catch(async (err: Error) => {
        // The user's own situation (their home leased by a desktop elsewhere) keeps its code for the waiting connect.
        await m.fail(row, `the home volume of ${effect.user} could not be attached: ${err.message}`, err instanceof ArdesiaError && PASSED_ON_CODES.has(err.code) ? err.code : undefined);
        queue({ type: 'session-ended' });
      });
    case 'release-home':
      return releaseHome(m.homeSteps, row);
    case 'notify-guest':
      return notifyGuest(m.homeSteps, row, effect.message).catch(async (err: Error) => {
        await m.fail(row, `the guest helper could not be told: ${err.message}`);
        if (effect.message.type === 'assign') queue({ type: 'session-ended' });
      });
    case 'disconnect-clients':
      m.emit('disconnect-clients', row.name);
      return;
    case 'destroy-and-reclone':
      return recloneDesktop(m.steps, row, pool, target).then(
        () => void queue({ type: 'reset-done' }),
        async (err: Error) => {
          await m.fail(row, `re-cloning the system disk failed: ${err.message}`);
          queue({ type: 'reset-failed' });
        },
      );
    case 'retire':
      return m.retire(row);
  }
}

/** A reset's stop; a test's failpoint makes it fail as a stop sent to a host out of reach does. */
function resetStop(steps: DesktopVmSteps, name: string, force: boolean): Promise<void> {
  if (failpointOn('desktop-reset-stop-unreachable')) return Promise.reject(new ArdesiaError('AGENT_NOT_LINKED', `the VM's host is out of reach (failpoint desktop-reset-stop-unreachable)`));
  return stopDesktopVm(steps, name, force);
}

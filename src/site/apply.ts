// The shell of `ardesia apply`: runs a plan's steps in order over the API, one call each, with a progress line per
// step; the first failure stops it, saying what was done and what was not.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { ArdesiaError } from '../contract/errors.js';
import type { Operation } from '../contract/images.js';
import { type SitePlan, type Step, stepText } from './plan.js';
import type { SiteApi } from './state.js';

/** Follows an image operation to its end (the CLI's poller), throwing its error. */
export type OperationFollower = (op: Operation) => Promise<unknown>;

export interface ApplyReport {
  done: Step[];
  /** First-login passwords of the users made (returned once by the API). */
  firstLogins: Array<{ user: string; password: string }>;
}

async function fileSha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Before any step: the conflicts refused, and every file to import hashed, so a wrong file stops apply before it begins. */
export async function applyPreflight(plan: SitePlan): Promise<void> {
  if (plan.conflicts.length) {
    throw new ArdesiaError('SITE_CONFLICT', `the site cannot take this file as it is (nothing was changed):\n  ${plan.conflicts.join('\n  ')}`, { conflicts: plan.conflicts });
  }
  for (const step of plan.steps) {
    const check = step.call.sha256Check;
    if (!check) continue;
    let actual: string;
    try {
      actual = await fileSha256(check.file);
    } catch (err) {
      throw new ArdesiaError('SITE_IMAGE_SHA256_MISMATCH', `image ${step.name}: cannot read ${check.file} to check its sha256 (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); run apply on the daemon's host`);
    }
    if (actual !== check.sha256) throw new ArdesiaError('SITE_IMAGE_SHA256_MISMATCH', `image ${step.name}: ${check.file} has sha256 ${actual}, the site file says ${check.sha256}`);
  }
}

/** Runs the steps; `progress` gets one line per step. On a failure it reports and rethrows the step's own error. */
export async function applyRun(api: SiteApi, follow: OperationFollower, plan: SitePlan, progress: (line: string) => void): Promise<ApplyReport> {
  await applyPreflight(plan);
  const report: ApplyReport = { done: [], firstLogins: [] };
  const total = plan.steps.length;
  for (const [i, step] of plan.steps.entries()) {
    const at = `[${i + 1}/${total}]`;
    try {
      const answer = await api.request<unknown>(step.call.method, step.call.path, step.call.body);
      if (step.call.operation) await follow(answer as Operation);
      const password = step.resource === 'user' && step.action === 'create' ? (answer as { password?: string }).password : undefined;
      if (password) report.firstLogins.push({ user: step.name, password });
      report.done.push(step);
      progress(`${at} ${stepText(step)} … done`);
    } catch (err) {
      progress(`${at} ${stepText(step)} … FAILED: ${(err as Error).message}`);
      progress(`apply stopped: ${report.done.length} of ${total} steps done${report.done.length ? ` (${report.done.map((s) => `${s.action} ${s.resource} ${s.name}`).join(', ')})` : ''}; not done: ${plan.steps.slice(i).map((s) => `${s.action} ${s.resource} ${s.name}`).join(', ')}`);
      for (const f of report.firstLogins) progress(`first-login password of ${f.user}: ${f.password} (shown once)`);
      throw err;
    }
  }
  return report;
}

// `ardesia plan -f site.yaml`, `ardesia apply -f site.yaml [--prune]`, `ardesia export`: the site as code (src/site/).
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { ArdesiaError } from '../../contract/errors.js';
import type { Operation } from '../../contract/images.js';
import type { SitePlan } from '../../site/plan.js';
import type { SiteFile } from '../../site/schema.js';
import { output } from '../output.js';
import { client, followOperation, wantsJson } from './image.js';

// src/site (and YAML) load on demand: every other command starts without them.
const siteModules = async () => {
  const [apply, exp, plan, schema, state] = await Promise.all([
    import('../../site/apply.js'), import('../../site/export.js'), import('../../site/plan.js'), import('../../site/schema.js'), import('../../site/state.js'),
  ]);
  return { ...apply, ...exp, ...plan, ...schema, ...state };
};

async function siteFileRead(path: string): Promise<SiteFile> {
  const { siteFileParse } = await siteModules();
  let text: string;
  try {
    text = readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (err) {
    throw new ArdesiaError('SITE_FILE_INVALID', `cannot read the site file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return siteFileParse(text, path === '-' ? '(stdin)' : path);
}

function planLines(plan: SitePlan, stepText: (s: SitePlan['steps'][number]) => string): string[] {
  return [...plan.notes.map((n) => `  (${n})`), ...plan.conflicts.map((c) => `! ${c}`), ...(plan.steps.length ? plan.steps.map(stepText) : ['no change'])];
}

export function registerSiteCommands(program: Command): void {
  program
    .command('plan')
    .description('show what `apply -f FILE` would change: each create, update (with the fields) and delete (--prune)')
    .requiredOption('-f, --file <site.yaml>', 'the site file ("-" for standard input)')
    .option('--prune', 'also plan deletes of what the file does not list')
    .action(async (flags: { file: string; prune?: boolean }, cmd: Command) => {
      const { sitePlan, siteStateRead, stepText } = await siteModules();
      const site = await siteFileRead(flags.file);
      const plan = sitePlan(site, await siteStateRead(client(cmd)), { prune: flags.prune === true });
      output(wantsJson(cmd), wantsJson(cmd) ? plan : planLines(plan, stepText).join('\n'));
      if (plan.conflicts.length) process.exitCode = 1;
    });

  program
    .command('apply')
    .description('make the site what FILE says, in order, one API call per step; deletes only with --prune; a second apply says "no change"')
    .requiredOption('-f, --file <site.yaml>', 'the site file ("-" for standard input)')
    .option('--prune', 'also delete what the file does not list (local users, groups, console directory sources, images, pools, thin clients)')
    .action(async (flags: { file: string; prune?: boolean }, cmd: Command) => {
      const { applyRun, sitePlan, siteStateRead } = await siteModules();
      const site = await siteFileRead(flags.file);
      const api = client(cmd);
      const plan = sitePlan(site, await siteStateRead(api), { prune: flags.prune === true });
      for (const note of plan.notes) process.stderr.write(`ardesia: (${note})\n`);
      if (!plan.steps.length && !plan.conflicts.length) return output(wantsJson(cmd), wantsJson(cmd) ? { steps: [] } : 'no change');
      const report = await applyRun(api, (op: Operation) => followOperation(api, op, !wantsJson(cmd)), plan, (line) => process.stderr.write(`${line}\n`));
      if (wantsJson(cmd)) return output(true, { steps: report.done, firstLogins: report.firstLogins });
      const logins = report.firstLogins.map((f) => `first-login password of ${f.user}: ${f.password} (shown once; they change it at first login)`);
      output(false, [`applied ${report.done.length} step${report.done.length === 1 ? '' : 's'}`, ...logins].join('\n'));
    });

  program
    .command('export')
    .description('write today\'s site as a site file (stdout): `plan -f` of it shows no change')
    .action(async (_f: unknown, cmd: Command) => {
      const { siteExport, siteExportText, siteStateRead } = await siteModules();
      const state = await siteStateRead(client(cmd));
      if (wantsJson(cmd)) return output(true, siteExport(state));
      process.stdout.write(siteExportText(state));
    });
}

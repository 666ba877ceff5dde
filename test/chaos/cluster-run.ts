// `npm run chaos:cluster [-- --seed N --steps 40 --fault-every 4]`: the long cluster trial; prints its figures as JSON
// for docs/reliability.md and exits non-zero when a home was damaged or a finding was made.
import { parseArgs } from 'node:util';
import { runClusterTrial } from './cluster-trial.js';

const { values } = parseArgs({ options: { seed: { type: 'string' }, steps: { type: 'string', default: '40' }, 'fault-every': { type: 'string', default: '4' } } });
const positive = (name: string, text: string): number => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`chaos:cluster: --${name} must be a whole number of at least 1, not "${text}"`);
    process.exit(2);
  }
  return n;
};
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : positive('seed', values.seed);
const report = await runClusterTrial({ seed, steps: positive('steps', values.steps!), faultEvery: positive('fault-every', values['fault-every']!), required: ['kill', 'cut-off'] });
console.log(JSON.stringify(report, null, 2));
process.exit(report.violations.length || report.findings.length ? 1 : 0);

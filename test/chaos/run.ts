// `npm run chaos [-- --seed N --operations 200 --kill-every 4]`: the long kill -9 battery; prints its figures as
// JSON for docs/reliability.md and exits non-zero when an invariant broke.
import { parseArgs } from 'node:util';
import { runBattery } from './battery.js';

const { values } = parseArgs({ options: { seed: { type: 'string' }, operations: { type: 'string', default: '200' }, 'kill-every': { type: 'string', default: '4' } } });
const positive = (name: string, text: string): number => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`chaos: --${name} must be a whole number of at least 1, not "${text}"`);
    process.exit(2);
  }
  return n;
};
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : positive('seed', values.seed);
const report = await runBattery({ seed, operations: positive('operations', values.operations!), killEvery: positive('kill-every', values['kill-every']!) });
console.log(JSON.stringify(report, null, 2));
process.exit(report.violations.length || report.findings.length ? 1 : 0);

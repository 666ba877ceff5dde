// Fuzzes parseVmConfText: random and mutated inputs (bytes and tokens of the fixtures). Any
// exception that is not an ArdesiaError VMCONF_* with a file:line:col message is a crash.
//   node dist/src/hypervisor/vmconf/fuzz.js [--seconds N] [--seed S]
import { ArdesiaError } from '../../contract/errors.js';
import { ALL_FIXTURES } from './fixtures.js';
import { parseVmConfText } from './load.js';
import { mulberry32 } from '../../lib/prng.js';

const DEFAULT_SECONDS = 120;
const SLOW_INPUT_MS = 2000;
const VOCABULARY = [
  'vm', 'switch', 'include', 'instance', 'allow', 'memory', 'disk', 'cdrom', 'boot', 'device', 'interface', 'interfaces',
  'local', 'locked', 'lladdr', 'owner', 'enable', 'disable', 'format', 'bus', 'model', 'bridge', 'group', 'rdomain', 'up',
  'down', 'cpus', 'arch', 'accel', 'firmware', 'initrd', 'cmdline', 'sev', 'prefix', 'inet6', 'staggered', 'start',
  'parallel', 'delay', 'socket', 'agentx', 'restart-on-host-loss', 'yes', '{', '}', ',', '=', '\n', '\\\n', '#', '"', "'", '$x', '$', 'x = "v"', '0', '-1',
  '512M', '99999999999999999999G', '1.5G', 'qcow2', 'raw', 'cdrom', 'net', 'tap0', 'br0', '00:11:22:33:44:55', '"a.img"',
  '"inc.conf"', '"/loop.conf"', 'uefi', 'i386', 'tcg', ':g', 'u:g', '\t', ' ', '\0', 'é',
];
/** In-memory files for include: one nested, one that includes itself. */
const FILES: Record<string, string> = {
  '/f/inc.conf': 'x = "/v"\nvm "inc" {\n\tmemory 64M\n}\n',
  '/loop.conf': 'include "/loop.conf"\n',
};


type Rng = () => number;
const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)]!;
const int = (rng: Rng, n: number) => Math.floor(rng() * n);

function mutateBytes(rng: Rng, text: string): string {
  const chars = [...text];
  for (let n = 1 + int(rng, 4); n > 0; n--) {
    const at = int(rng, chars.length + 1);
    const op = int(rng, 3);
    if (op === 0 && chars.length > 0) chars.splice(Math.min(at, chars.length - 1), 1);
    else if (op === 1) chars.splice(at, 0, String.fromCharCode(int(rng, 128)));
    else if (chars.length > 0) {
      const i = Math.min(at, chars.length - 1);
      chars[i] = String.fromCharCode((chars[i]!.charCodeAt(0) ^ (1 << int(rng, 7))) & 0xffff);
    }
  }
  return chars.join('');
}

function mutateTokens(rng: Rng, text: string): string {
  const tokens = text.split(/(\s+|[{}=,"])/).filter((t) => t !== '');
  for (let n = 1 + int(rng, 3); n > 0; n--) {
    const at = int(rng, tokens.length + 1);
    const op = int(rng, 4);
    if (op === 0 && tokens.length > 0) tokens.splice(at, 1);
    else if (op === 1) tokens.splice(at, 0, ' ', pick(rng, VOCABULARY), ' ');
    else if (op === 2 && tokens.length > 0) tokens.splice(at, 0, pick(rng, tokens));
    else if (tokens.length > 1) {
      const j = int(rng, tokens.length);
      [tokens[Math.min(at, tokens.length - 1)], tokens[j]] = [tokens[j]!, tokens[Math.min(at, tokens.length - 1)]!];
    }
  }
  return tokens.join('');
}

function randomInput(rng: Rng): string {
  const parts: string[] = [];
  for (let n = int(rng, 40); n > 0; n--) parts.push(pick(rng, VOCABULARY), pick(rng, [' ', ' ', '\n', '']));
  return parts.join('');
}

function nextInput(rng: Rng): string {
  const r = rng();
  if (r < 0.1) return randomInput(rng);
  const seed = pick(rng, ALL_FIXTURES);
  return r < 0.55 ? mutateBytes(rng, seed) : mutateTokens(rng, seed);
}

export type FuzzOutcome = { kind: 'accepted' | 'rejected' } | { kind: 'crash'; why: string };

/** Runs one input: accepted, rejected with a proper VMCONF error, or a crash. */
export function fuzzOne(input: string): FuzzOutcome {
  const started = Date.now();
  let kind: 'accepted' | 'rejected' = 'accepted';
  try {
    parseVmConfText(input, {
      path: '/f/vm.conf',
      readFile: (p) => {
        const text = FILES[p];
        if (text === undefined) throw new Error(`ENOENT ${p}`);
        return text;
      },
      probeFile: () => undefined,
      interfaceKind: () => 'missing',
    });
  } catch (err) {
    if (!(err instanceof ArdesiaError) || !err.code.startsWith('VMCONF_')) {
      return { kind: 'crash', why: `unexpected exception: ${err instanceof Error ? err.stack : String(err)}` };
    }
    if (!/^\S+:\d+:\d+: /.test(err.message)) return { kind: 'crash', why: `VMCONF error without file:line:col: ${err.message}` };
    kind = 'rejected';
  }
  const elapsed = Date.now() - started;
  return elapsed > SLOW_INPUT_MS ? { kind: 'crash', why: `one input took ${elapsed} ms` } : { kind };
}

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function main(): void {
  const seconds = Number(argValue('--seconds') ?? DEFAULT_SECONDS);
  const seed = Number(argValue('--seed') ?? Date.now() % 2 ** 31);
  const rng = mulberry32(seed);
  const deadline = Date.now() + seconds * 1000;
  let tried = 0;
  let accepted = 0;
  while (Date.now() < deadline) {
    for (let batch = 0; batch < 200; batch++) {
      const input = nextInput(rng);
      tried++;
      const outcome = fuzzOne(input);
      if (outcome.kind === 'crash') {
        console.error(`CRASH after ${tried} inputs (seed ${seed}): ${outcome.why}\ninput (JSON): ${JSON.stringify(input)}`);
        process.exit(1);
      }
      if (outcome.kind === 'accepted') accepted++;
    }
  }
  console.log(JSON.stringify({ seed, seconds, tried, accepted, rejected: tried - accepted, crashes: 0 }));
}

if (import.meta.url === `file://${process.argv[1]}`) main();

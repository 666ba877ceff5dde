import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BootParamsText } from '../../contract/thinclients.js';
import { bootScript, refusalMessage, waitingScript, RETRY_SECONDS } from './ipxe-script.js';

const BASE = { server: 'http://10.250.5.1:8080', mac: '52:54:00:05:00:01' };
const AMD64 = { kernel: 'vmlinuz', initrd: 'initrd.img', kernelCmdline: 'console=ttyS0 quiet' };
const I386 = { kernel: 'vmlinuz', initrd: 'initrd.img', kernelCmdline: 'console=ttyS0' };

type Outcome = { kernel: string; initrd: string } | { waits: string };

/** Runs the subset of iPXE script the boot script uses, on a PC with `platform` firmware and a CPU with or without long mode. */
function runScript(script: string, platform: 'pcbios' | 'efi', longMode: boolean): Outcome {
  const lines = script.split('\n');
  assert.equal(lines[0], '#!ipxe');
  const labels = new Map(lines.flatMap((l, i) => (l.startsWith(':') ? [[l.slice(1), i] as const] : [])));
  const jump = (label: string) => {
    const at = labels.get(label);
    assert.ok(at !== undefined, `goto ${label}: no such label in\n${script}`);
    return at;
  };
  let kernel = '';
  let initrd = '';
  let echoed = '';
  for (let i = 1, steps = 0; i < lines.length && steps < 100; i++, steps++) {
    const line = lines[i]!;
    let m: RegExpExecArray | null;
    if ((m = /^iseq \$\{platform\} (\w+) && goto (\w+) \|\|$/.exec(line))) { if (platform === m[1]) i = jump(m[2]!); }
    else if ((m = /^cpuid --ext 29 && goto (\w+) \|\| goto (\w+)$/.exec(line))) i = jump(longMode ? m[1]! : m[2]!);
    else if ((m = /^goto (\w+)$/.exec(line))) i = jump(m[1]!);
    else if ((m = /^kernel (\S+)/.exec(line))) kernel = line.slice('kernel '.length);
    else if ((m = /^initrd (\S+)$/.exec(line))) initrd = m[1]!;
    else if (line === 'boot') return { kernel, initrd };
    else if (line.startsWith('echo ')) echoed = line.slice(5);
    else if (/^sleep \d+$/.test(line)) return { waits: echoed };
    else assert.ok(line === '' || line.startsWith(':'), `unexpected line ${line}`);
  }
  assert.fail(`the script ended without booting or waiting:\n${script}`);
}

const kernelOf = (arch: string, cmdline: string) =>
  `http://10.250.5.1:8080/boot/files/${arch}/vmlinuz initrd=initrd.img ${cmdline} ardesia.server=http://10.250.5.1:8080 ardesia.mac=\${mac}`;

test('boot script: which OS each PC boots, by firmware, CPU and what is built', () => {
  const cases: Array<{ built: 'both' | 'amd64' | 'i386'; platform: 'pcbios' | 'efi'; longMode: boolean; boots?: 'amd64' | 'i386'; waits?: RegExp }> = [
    { built: 'both', platform: 'pcbios', longMode: true, boots: 'amd64' },
    { built: 'both', platform: 'pcbios', longMode: false, boots: 'i386' },
    { built: 'both', platform: 'efi', longMode: true, boots: 'amd64' },
    { built: 'amd64', platform: 'pcbios', longMode: true, boots: 'amd64' },
    { built: 'amd64', platform: 'efi', longMode: true, boots: 'amd64' },
    { built: 'amd64', platform: 'pcbios', longMode: false, waits: /CPU has no 64-bit mode; ask an administrator to run: ardesia thinclient build --arch i386 \(MAC 52:54:00:05:00:01\)/ },
    { built: 'i386', platform: 'pcbios', longMode: false, boots: 'i386' },
    { built: 'i386', platform: 'pcbios', longMode: true, boots: 'i386' },
    { built: 'i386', platform: 'efi', longMode: true, waits: /UEFI PC boots only a 64-bit OS; ask an administrator to run: ardesia thinclient build --arch amd64/ },
  ];
  for (const c of cases) {
    const systems = c.built === 'both' ? { amd64: AMD64, i386: I386 } : c.built === 'amd64' ? { amd64: AMD64 } : { i386: I386 };
    const outcome = runScript(bootScript({ ...BASE, systems, bootParams: null }), c.platform, c.longMode);
    const what = JSON.stringify(c);
    if (c.boots) {
      const system = c.boots === 'amd64' ? AMD64 : I386;
      assert.deepEqual(outcome, { kernel: kernelOf(c.boots, system.kernelCmdline), initrd: `http://10.250.5.1:8080/boot/files/${c.boots}/initrd.img` }, what);
    } else {
      assert.ok('waits' in outcome && c.waits!.test(outcome.waits), `${what}: ${JSON.stringify(outcome)}`);
    }
  }
});

test('boot script: the client\'s own parameters follow the manifest\'s; an empty cmdline leaves no double spaces', () => {
  const withParams = runScript(bootScript({ ...BASE, systems: { amd64: AMD64 }, bootParams: 'quiet splash' }), 'pcbios', true);
  assert.deepEqual(withParams, { kernel: kernelOf('amd64', 'console=ttyS0 quiet quiet splash'), initrd: 'http://10.250.5.1:8080/boot/files/amd64/initrd.img' });
  const bare = runScript(bootScript({ ...BASE, systems: { amd64: { ...AMD64, kernelCmdline: '  ' } }, bootParams: null }), 'pcbios', true);
  assert.ok('kernel' in bare && !bare.kernel.includes('  '), JSON.stringify(bare));
});

test('boot script: a PC waiting for its OS asks for its script again', () => {
  const script = bootScript({ ...BASE, systems: { amd64: AMD64 }, bootParams: null });
  assert.match(script, new RegExp(`\nsleep ${RETRY_SECONDS}\nchain --replace http://10\\.250\\.5\\.1:8080/boot/ipxe\\?mac=52:54:00:05:00:01 \\|\\| goto need_i386\n`));
});

test('a disabled client is told so with its MAC and asks again later', () => {
  const message = refusalMessage('disabled', BASE.mac);
  assert.equal(message, 'This thin client is not enabled; ask an administrator (MAC 52:54:00:05:00:01)');
  const script = waitingScript(BASE.server, BASE.mac, message);
  assert.match(script, /^#!ipxe\n:retry\necho This thin client is not enabled/);
  assert.match(script, new RegExp(`\nsleep ${RETRY_SECONDS}\nchain --replace http://10\\.250\\.5\\.1:8080/boot/ipxe\\?mac=52:54:00:05:00:01 \\|\\| goto retry\n$`));
  assert.doesNotMatch(script, /\nkernel /);
});

test('a client awaiting approval gets its own message', () => {
  assert.match(refusalMessage('awaiting-approval', BASE.mac), /waiting for approval.*MAC 52:54:00:05:00:01/);
});

test('boot parameters iPXE would read as script are refused, by the schema and by the script builder', () => {
  const attacks = ['quiet || shell', 'quiet && shell', 'a # comment', 'x; shell', 'a | b', 'a & b', '${net0/ip}', 'a\nshell', 'say "hi"', "it's", 'back\\slash', 'tab\there'];
  for (const text of attacks) {
    assert.equal(BootParamsText.safeParse(text).success, false, `schema accepts ${JSON.stringify(text)}`);
    assert.throws(() => bootScript({ ...BASE, systems: { amd64: AMD64 }, bootParams: text }), /read by iPXE as script/, JSON.stringify(text));
  }
  for (const text of ['quiet loglevel=3', 'console=ttyS0,115200n8 video=1024x768@60 i915.modeset=0', 'acpi_osi=(Linux) ip=dhcp']) {
    assert.equal(BootParamsText.safeParse(text).success, true, text);
    assert.ok(bootScript({ ...BASE, systems: { amd64: AMD64 }, bootParams: text }).includes(text));
  }
});

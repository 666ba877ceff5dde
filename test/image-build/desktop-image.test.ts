// The Debian desktop gold image: built (cached in .cache/images; a cold build runs only when the
// cache is absent), booted under UEFI with direct kernel boot (TCG, 2 vCPUs, 1 GiB), a user assigned
// over the guest channel with a blank home and keyboard layout `de`, the screen checked to show a desktop
// and the session's X keyboard layout checked to be `de`; the user's own exit from the desktop is reported as a logoff.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { GuestChannel } from '../../src/agent/guest-channel.js';
import { buildDebianImage, type BuiltDebianImage } from '../../src/images/build/debian.js';
import { QemuRun } from '../guests/qemu-run.js';
import { guestPortArgs, repoRoot } from './helper-guest.js';

// Beyond the guest helper's own bound for the session to come up (400 s), so that its error, if any, is what shows.
const SESSION_TIMEOUT_MS = 480_000;

/** Number of distinct RGB colours in an 8-bit RGB/RGBA non-interlaced PNG (QEMU's screendump). */
export function distinctPngColours(png: Buffer): number {
  const width = png.readUInt32BE(16);
  const height = png.readUInt32BE(20);
  const colourType = png[25];
  const channels = colourType === 6 ? 4 : colourType === 2 ? 3 : 0;
  assert.ok(channels > 0 && png[24] === 8, `unexpected PNG format (type ${colourType}, depth ${png[24]})`);
  const idat: Buffer[] = [];
  for (let at = 8; at < png.length; ) {
    const length = png.readUInt32BE(at);
    const type = png.toString('latin1', at + 4, at + 8);
    if (type === 'IDAT') idat.push(png.subarray(at + 8, at + 8 + length));
    at += 12 + length;
  }
  const data = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const previous = Buffer.alloc(stride);
  const row = Buffer.alloc(stride);
  const colours = new Set<number>();
  for (let y = 0; y < height; y++) {
    const filter = data[y * (stride + 1)]!;
    const line = data.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? row[x - channels]! : 0;
      const b = previous[x]!;
      const c = x >= channels ? previous[x - channels]! : 0;
      const p = a + b - c;
      const paeth = Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c;
      const predictor = [0, a, b, (a + b) >> 1, paeth][filter] ?? 0;
      row[x] = (line[x]! + predictor) & 0xff;
    }
    for (let x = 0; x < stride; x += channels) colours.add((row[x]! << 16) | (row[x + 1]! << 8) | row[x + 2]!);
    row.copy(previous);
  }
  return colours.size;
}

describe('Debian desktop image', () => {
  let dir: string;
  let image: BuiltDebianImage;
  let dest: string;
  let vm: QemuRun | undefined;
  let channel: GuestChannel | undefined;

  before(async () => {
    dir = mkdtempSync('/tmp/adi-');
    const workDir = join(repoRoot(), '.cache', 'images');
    dest = join(workDir, 'desktop-test.qcow2');
    const started = Date.now();
    image = await buildDebianImage({ dest, workDir });
    console.log(`# image build: ${Date.now() - started} ms, ${image.packages.length} packages, ${image.sha256.slice(0, 12)}…`);
  });

  after(async () => {
    channel?.close();
    await vm?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it('records what it built', () => {
    assert.equal(image.boot.firmware, 'uefi');
    assert.equal(image.guestHelper, 2, 'the guest helper version, which makes restore the default start mode of its pools');
    assert.match(image.sha256, /^[0-9a-f]{64}$/);
    for (const name of ['jwm', 'xterm', 'pcmanfm', 'xserver-xorg-core', 'linux-image-amd64', 'x11-xkb-utils', 'xkb-data', 'spice-vdagent']) {
      assert.ok(image.packages.some((p) => p.name === name), `${name} is installed`);
    }
    const info = JSON.parse(execFileSync('qemu-img', ['info', '--output=json', dest]).toString()) as { format: string; 'virtual-size': number };
    assert.equal(info.format, 'qcow2');
    assert.equal(info['virtual-size'], image.virtualSize);
  });

  it('boots to "ready", starts the assigned user\'s graphical session on a blank home, and shows a desktop', async () => {
    const overlay = join(dir, 'system.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', dest, overlay]);
    const home = join(dir, 'home.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', home, '256M']);
    const vars = join(dir, 'vars.fd');
    copyFileSync('/usr/share/OVMF/OVMF_VARS_4M.fd', vars);
    const socketPath = join(dir, 'g.sock');
    vm = await QemuRun.start('qemu-system-x86_64', [
      '-M', 'q35', '-accel', 'tcg', '-m', '1024', '-smp', '2',
      '-drive', 'if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd',
      '-drive', `if=pflash,format=raw,unit=1,file=${vars}`,
      '-kernel', image.boot.kernel!, '-initrd', image.boot.initrd!, '-append', image.boot.cmdline!,
      '-device', 'VGA',
      '-drive', `file=${overlay},if=none,id=system,format=qcow2`, '-device', 'virtio-blk-pci,drive=system',
      '-drive', `file=${home},if=none,id=home,format=qcow2`, '-device', 'virtio-blk-pci,drive=home,serial=ardesia-home',
      ...guestPortArgs(socketPath),
    ], dir);
    channel = new GuestChannel(socketPath).open();
    const booted = Date.now();
    // On a timeout, say where the guest got to.
    const withSerial = <T>(p: Promise<T>): Promise<T> =>
      p.catch((err: Error) => {
        throw new Error(`${err.message}; serial tail:\n${vm?.serial.slice(-3000)}`);
      });
    await withSerial(channel.waitFor('ready', undefined, SESSION_TIMEOUT_MS));
    const readyMs = Date.now() - booted;
    // What a spare runs before a user is known: the X server, its cookie in a root-only folder (read on the root console;
    // the echoed command line does not contain the marker it prints). The cookie is kept to compare after the logoff.
    await withSerial(vm.typeUntil(
      `[ -S /tmp/.X11-unix/X0 ] && pgrep -x Xorg >/dev/null && [ "$(stat -c %a /run/ardesia/display)" = 700 ] && cp /run/ardesia/display/cookie /root/spare-cookie && echo x-up-$((6*7))`,
      'x-up-42\r', 60_000,
    ));
    const started = channel.waitFor('session-started', (m) => m.user === 'alice', SESSION_TIMEOUT_MS);
    const assigned = Date.now();
    channel.send({ type: 'assign', user: 'alice', uid: 1001, homeSerial: 'ardesia-home', keyboardLayout: 'de' });
    await withSerial(started);
    console.log(`# desktop boot (TCG, 2 vCPUs, 1 GiB): cont → ready ${readyMs} ms, assign → session-started ${Date.now() - assigned} ms`);

    // The window manager and clients draw a moment after the session reports itself started.
    let colours = 0;
    const shot = join(dir, 'screen.png');
    // Keep looking a while past the bar so the saved screenshot shows the terminal and file manager too.
    for (let attempt = 0; attempt < 45 && colours < 400; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 2000));
      await vm.command('screendump', { filename: shot, format: 'png' });
      colours = distinctPngColours(readFileSync(shot));
    }
    assert.ok(colours >= 64, `the screen shows ${colours} distinct colours; a desktop has many`);
    const screenshots = join(repoRoot(), 'docs', 'screenshots');
    mkdirSync(screenshots, { recursive: true });
    writeFileSync(join(screenshots, 'desktop-session.png'), readFileSync(shot));

    // The layout from the assign message is the X server's (noVNC sends scancodes: the guest's layout decides).
    // Asked on the serial root console; the echoed command line does not contain the marker it prints.
    await withSerial(vm.typeUntil(
      `DISPLAY=:0 XAUTHORITY=/home/alice/.Xauthority setxkbmap -query | awk '/^layout:/ { print "xkb-" "layout=" $2 }'`,
      'xkb-layout=de\r', 60_000,
    ));

    // The user leaves from the desktop itself (the window manager's Exit: jwm ends, and so does the session's unit): the
    // helper, waiting on the session's process, reports it as a logoff. (The host's logoff: desktop-flow, restore-debian.)
    const ended = channel.waitFor('session-ended', undefined, SESSION_TIMEOUT_MS);
    await withSerial(vm.typeUntil(`pkill -u alice -x jwm && echo wm-gone-$((6*7))`, 'wm-gone-42\r', 60_000));
    assert.deepEqual(await withSerial(ended), { type: 'session-ended', user: 'alice', reason: 'logoff' });
    // The desktop lives on here (as a persistent one does): its next user gets a new X server with a new cookie.
    await withSerial(vm.typeUntil(
      `[ -S /tmp/.X11-unix/X0 ] && [ -s /run/ardesia/display/cookie ] && ! cmp -s /root/spare-cookie /run/ardesia/display/cookie && echo x-new-$((6*7))`,
      'x-new-42\r', 60_000,
    ));
  });
});

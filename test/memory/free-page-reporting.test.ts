// Free page reporting on a real QEMU and the real test guest (Debian 12's kernel, virtio_balloon loaded): the guest
// fills 256 MiB and frees it, and the QEMU process's resident memory goes back down. QEMU marks guest RAM mergeable
// for KSM by itself (mem-merge=on, its default): the RAM mapping carries the `mg` flag.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import type { VmStatus } from '../../src/contract/vm.js';
import { TestDaemon, until } from '../helpers/daemon.js';
import { guestArtifacts } from '../helpers/guests.js';
import { helperImage, untilDesktops } from '../pools/support.js';
import { GuestShell } from './guest-shell.js';

const g = guestArtifacts();
const MEMORY_MIB = 512;
const FILL_MIB = 256;
/** The RSS must fall by at least this much of what the fill added (reporting works in 2 MiB blocks and keeps some). */
const GIVEN_BACK_SHARE = 0.5;
let daemon: TestDaemon;

before(async () => {
  daemon = await TestDaemon.start();
});
after(async () => {
  await daemon?.destroy();
});

const rssMiB = (pid: number) => Number(/^Rss:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))![1]) / 1024;

/** The VmFlags of QEMU's guest RAM: the one anonymous mapping exactly the VM's memory size. */
function guestRamFlags(pid: number, memoryMiB = MEMORY_MIB): string[] {
  const smaps = readFileSync(`/proc/${pid}/smaps`, 'utf8').split(/\n(?=[0-9a-f]+-[0-9a-f]+ )/);
  const ram = smaps.find((m) => new RegExp(`^Size:\\s+${memoryMiB * 1024} kB$`, 'm').test(m));
  assert.ok(ram, `no ${memoryMiB} MiB mapping in QEMU's smaps`);
  return /^VmFlags:(.*)$/m.exec(ram)![1]!.trim().split(/\s+/);
}

test('a guest that fills and frees memory gives it back to the host (virtio-balloon free page reporting)', async () => {
  const spec = { name: 'fpr1', memoryMiB: MEMORY_MIB, freePageReporting: true, boot: { kernel: g.amd64.kernel, initrd: g.amd64.initrd, cmdline: 'console=ttyS0 quiet' } };
  await daemon.api().request('POST', '/v1/vms', { spec });
  await daemon.api().request('POST', '/v1/vms/fpr1/start', {});
  await until('the banner', async () => (await daemon.cli(['vm', 'log', 'fpr1'])).stdout.includes(g.amd64.banner), 180_000);
  const pid = (await daemon.api().request<VmStatus>('GET', '/v1/vms/fpr1')).pid!;
  assert.ok(guestRamFlags(pid).includes('mg'), 'QEMU marks guest RAM mergeable (MADV_MERGEABLE) without being asked');

  const shell = await GuestShell.open(daemon, 'fpr1');
  try {
    const drivers = await shell.run('ls /sys/bus/virtio/drivers/virtio_balloon/', 'DRV');
    assert.match(drivers, /virtio\d/, 'the guest bound its virtio_balloon driver to the device');
    const before = rssMiB(pid);
    // Random bytes: zero pages would be merged by KSM if another test turns it on meanwhile (it is the host's).
    await shell.run(`dd if=/dev/urandom of=/fill bs=1M count=${FILL_MIB} 2>/dev/null; sync`, 'FILL', 300_000);
    const filled = rssMiB(pid);
    // Pages the guest had touched before and freed are reused by the fill, so not all of it is new to QEMU.
    assert.ok(filled - before > FILL_MIB * 0.5, `the fill is resident in QEMU: ${before.toFixed(0)} → ${filled.toFixed(0)} MiB`);
    await shell.run('rm /fill', 'FREE');
    // The guest reports free 2 MiB blocks a few seconds after they are freed: poll, bounded, never a fixed sleep.
    const target = filled - (filled - before) * GIVEN_BACK_SHARE;
    const after = await until('QEMU RSS to fall', () => (rssMiB(pid) < target ? rssMiB(pid) : false), 120_000, 500).catch(() => rssMiB(pid));
    console.log(`free page reporting: RSS ${before.toFixed(0)} MiB idle → ${filled.toFixed(0)} MiB with ${FILL_MIB} MiB filled → ${after.toFixed(0)} MiB after freeing`);
    assert.ok(after < target, `RSS after freeing ${after.toFixed(0)} MiB, not below ${target.toFixed(0)} MiB (idle ${before.toFixed(0)}, filled ${filled.toFixed(0)})`);
  } finally {
    shell.close();
    await daemon.api().request('POST', '/v1/vms/fpr1/stop', { force: true });
  }
});

test("a pool desktop is launched with free page reporting (its VM spec and QEMU's argv), its RAM mergeable", async () => {
  await helperImage(daemon, 'fpr-bb');
  await daemon.api().request('POST', '/v1/pools', { name: 'fpr-pool', image: 'fpr-bb', warmSpares: 1, maxDesktops: 1, memoryMiB: 192 });
  const [desktop] = await untilDesktops(daemon, 'fpr-pool', 'a ready spare', (ds) => ds.some((d) => d.state === 'ready'), 240_000);
  const vm = await daemon.api().request<VmStatus>('GET', `/v1/vms/${desktop!.name}`);
  assert.equal(vm.spec.freePageReporting, true, "the desktop's VM spec asks for it");
  const argv = readFileSync(`/proc/${vm.pid!}/cmdline`, 'utf8').split('\0');
  assert.ok(argv.includes('virtio-balloon-pci,id=balloon0,free-page-reporting=on'), `QEMU's argv: ${argv.join(' ')}`);
  assert.ok(guestRamFlags(vm.pid!, 192).includes('mg'));
  await daemon.api().request('DELETE', '/v1/pools/fpr-pool').catch(() => undefined);
});

// Turns a Debian (mmdebstrap) tree into the Ardesia desktop: the guest helper and its units, the session
// service, fstab and host name, consoles, and no documentation. Only files are written (no chroot),
// so applying it again to the cached tree is idempotent.
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface OverlayFile {
  path: string;
  content?: string;
  /** Copy this file from the repository's guest/linux folder instead of `content`. */
  from?: string;
  mode?: number;
  symlinkTo?: string;
}

const SERIAL_ROOT_AUTOLOGIN = `# The serial console is the administrator's (maintenance sessions); users only see the screen.
[Service]
ExecStart=
ExecStart=-/sbin/agetty --autologin root --keep-baud 115200,57600,38400,9600 %I $TERM
`;

/** Every file the desktop image gets on top of mmdebstrap minbase (pure data, tested). */
export function desktopOverlay(): OverlayFile[] {
  return [
    { path: 'etc/hostname', content: 'ardesia-desktop\n' },
    { path: 'etc/hosts', content: '127.0.0.1\tlocalhost\n127.0.1.1\tardesia-desktop\n' },
    { path: 'etc/fstab', content: '/dev/vda\t/\text4\trw,errors=remount-ro\t0\t1\n' },
    { path: 'usr/sbin/ardesia-guest-helper', from: 'ardesia-guest-helper', mode: 0o755 },
    { path: 'etc/systemd/system/ardesia-guest-helper.service', from: 'ardesia-guest-helper.service' },
    { path: 'etc/systemd/system/ardesia-session@.service', from: 'ardesia-session@.service' },
    { path: 'usr/lib/ardesia/desktop-session', from: 'desktop-session', mode: 0o755 },
    // The X server, up before the helper reports ready (so in every spare and template); not enabled: the helper starts it.
    { path: 'etc/systemd/system/ardesia-display.service', from: 'ardesia-display.service' },
    { path: 'usr/lib/ardesia/display-server', from: 'display-server', mode: 0o755 },
    { path: 'etc/systemd/system/multi-user.target.wants/ardesia-guest-helper.service', symlinkTo: '/etc/systemd/system/ardesia-guest-helper.service' },
    // tty1 shows the helper's "waiting for a user" screen, not a login prompt.
    { path: 'etc/systemd/system/getty@tty1.service', symlinkTo: '/dev/null' },
    { path: 'etc/systemd/system/serial-getty@ttyS0.service.d/autologin.conf', content: SERIAL_ROOT_AUTOLOGIN },
    { path: 'etc/X11/xorg.conf.d/10-ardesia-fbdev.conf', content: 'Section "Device"\n  Identifier "efifb"\n  Driver "fbdev"\n  Option "fbdev" "/dev/fb0"\nEndSection\n' },
    // Sessions are started by the guest helper, not by a display manager logind knows: no session integration (-X).
    // The agent needs no uinput (the pointer is the virtio tablet; SPICE runs with
    // agent-mouse=off): without -f -u /dev/null spice-vdagentd exits when the session's agent connects.
    { path: 'etc/default/spice-vdagentd', content: 'SPICE_VDAGENTD_EXTRA_ARGS="-X -f -u /dev/null"\n' },
    // Listening from boot: its udev rule asks systemd for it, but virtio ports carry no systemd tag.
    { path: 'etc/systemd/system/sockets.target.wants/spice-vdagentd.socket', symlinkTo: '/lib/systemd/system/spice-vdagentd.socket' },
    { path: 'etc/skel/.bashrc', content: 'PS1=\'\\u@\\h:\\w\\$ \'\n' },
    { path: 'etc/ardesia-image', content: 'debian-desktop\n' },
  ];
}

export function applyOverlay(root: string, files: readonly OverlayFile[], guestDir: string): void {
  for (const file of files) {
    const target = join(root, file.path);
    mkdirSync(dirname(target), { recursive: true });
    rmSync(target, { force: true }); // also removes a dangling symlink
    if (file.symlinkTo) symlinkSync(file.symlinkTo, target);
    else if (file.from) copyFileSync(join(guestDir, file.from), target);
    else writeFileSync(target, file.content ?? '');
    if (file.mode !== undefined) chmodSync(target, file.mode);
  }
}

/** Space no desktop needs: documentation (copyright files kept), manuals, locales, downloaded .debs, apt lists. */
export function slimTree(root: string): void {
  const emptyFolder = (rel: string, keep: (name: string) => boolean = () => false): void => {
    const dir = join(root, rel);
    if (!existsSync(dir)) return;
    for (const entry of readdirSync(dir)) if (!keep(entry)) rmSync(join(dir, entry), { recursive: true, force: true });
  };
  emptyFolder('usr/share/man');
  emptyFolder('usr/share/info');
  emptyFolder('usr/share/locale', (name) => name === 'locale.alias');
  emptyFolder('var/cache/apt/archives', (name) => name === 'partial' || name === 'lock');
  emptyFolder('var/lib/apt/lists', (name) => name === 'partial' || name === 'lock');
  const docs = join(root, 'usr/share/doc');
  if (existsSync(docs)) {
    for (const pkg of readdirSync(docs)) {
      const dir = join(docs, pkg);
      try {
        for (const entry of readdirSync(dir)) if (entry !== 'copyright') rmSync(join(dir, entry), { recursive: true, force: true });
      } catch {
        // A symlink to another package's folder: nothing of its own to remove.
      }
    }
  }
}

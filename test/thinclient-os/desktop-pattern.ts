// What only the desktop can show: the test's gold image paints the user's session on its screen (tty1)
// magenta above cyan, with the user's name, from /etc/profile of a non-root login there (the guest
// helper starts the session as `su -l USER` on tty1). Nothing in the portal or the kiosk has these
// colours; the check reads the pattern on a screen and compares it with the desktop VM's own screen.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DecodedPng } from './png.js';

/** The VGA text palette's magenta and cyan (colours 5 and 6) as QEMU renders them. */
export const PATTERN_TOP = [0xaa, 0x00, 0xaa] as const;
export const PATTERN_BOTTOM = [0x00, 0xaa, 0xaa] as const;

/** The image's /etc/profile plus the painting: rows 1–13 magenta, 14–25 cyan, the user named in each. */
export function patternProfile(baseProfile: string): string {
  return `${baseProfile.trimEnd()}
# Test pattern: a user's session on the desktop's screen (tty1), magenta above cyan.
if [ "$(id -u)" != 0 ] && [ "$(tty)" = /dev/tty1 ]; then
  printf '\\033[0;37;45m\\033[2J\\033[5;7HARDESIA TEST DESKTOP: the session of %s' "$USER"
  printf '\\033[14;1H\\033[0;30;46m\\033[J\\033[18;7Hthis screen comes from the desktop VM\\n'
fi
`;
}

/** Adds the painting to the /etc/profile of an ext4 root disk image (raw) in place, with debugfs. */
export function addPatternToImage(rawImage: string, workDir: string): void {
  const catProfile = () => execFileSync('debugfs', ['-R', 'cat /etc/profile', rawImage], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  const profile = join(workDir, 'profile');
  writeFileSync(profile, patternProfile(catProfile()));
  const commands = join(workDir, 'debugfs.cmd');
  writeFileSync(commands, `rm /etc/profile\nwrite ${profile} /etc/profile\nsif /etc/profile mode 0100644\n`);
  execFileSync('debugfs', ['-w', '-f', commands, rawImage], { stdio: 'ignore' });
  if (!catProfile().includes('ARDESIA TEST DESKTOP')) throw new Error(`the pattern did not reach /etc/profile of ${rawImage}`);
}

export interface PatternSeen {
  /** Shares of the screen's pixels in each colour (±8). */
  top: number;
  bottom: number;
  /** Mean row of each colour's pixels, as a fraction of the height (NaN when absent). */
  topY: number;
  bottomY: number;
}

const near = (p: Buffer, i: number, rgb: readonly number[]) => Math.abs(p[i]! - rgb[0]!) <= 8 && Math.abs(p[i + 1]! - rgb[1]!) <= 8 && Math.abs(p[i + 2]! - rgb[2]!) <= 8;

export function patternOn(png: DecodedPng): PatternSeen {
  let top = 0, bottom = 0, topRows = 0, bottomRows = 0;
  for (let y = 0; y < png.height; y++) {
    for (let x = 0; x < png.width; x++) {
      const i = (y * png.width + x) * png.channels;
      if (near(png.pixels, i, PATTERN_TOP)) { top++; topRows += y; }
      else if (near(png.pixels, i, PATTERN_BOTTOM)) { bottom++; bottomRows += y; }
    }
  }
  const total = png.width * png.height;
  return { top: top / total, bottom: bottom / total, topY: topRows / top / png.height, bottomY: bottomRows / bottom / png.height };
}

/** The pattern as the desktop draws it: each colour a real part of the screen, magenta above cyan, in about the
 *  proportion the desktop VM's own screen has them (the kiosk scales the desktop into its view). */
export function showsDesktopPattern(seen: PatternSeen, desktopOwn: PatternSeen): boolean {
  const ratio = (s: PatternSeen) => s.top / s.bottom;
  return seen.top > 0.1 && seen.bottom > 0.1 && seen.topY < seen.bottomY && desktopOwn.top > 0.3 && desktopOwn.bottom > 0.3
    && Math.abs(ratio(seen) / ratio(desktopOwn) - 1) < 0.25;
}

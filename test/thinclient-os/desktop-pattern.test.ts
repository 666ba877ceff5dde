// The pattern check against synthetic screens: what passes is the desktop's pattern, not a screen with a
// bit of each colour, the colours swapped, or the pattern in another proportion than the desktop has it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PATTERN_BOTTOM, PATTERN_TOP, patternOn, patternProfile, showsDesktopPattern } from './desktop-pattern.js';
import type { DecodedPng } from './png.js';

/** A 100×100 RGB screen from bands: [colour, rows] from the top; the rest dark grey. */
function screen(bands: Array<[readonly number[], number]>): DecodedPng {
  const pixels = Buffer.alloc(100 * 100 * 3, 0x28);
  let y = 0;
  for (const [rgb, rows] of bands) {
    for (let r = 0; r < rows; r++, y++) for (let x = 0; x < 100; x++) pixels.set(rgb, (y * 100 + x) * 3);
  }
  return { width: 100, height: 100, channels: 3, pixels };
}

const toolbar = [0x1d, 0x23, 0x30];
const desktopOwn = patternOn(screen([[PATTERN_TOP, 52], [PATTERN_BOTTOM, 48]]));

test('patternOn measures shares and mean rows', () => {
  assert.deepEqual(desktopOwn, { top: 0.52, bottom: 0.48, topY: 25.5 / 100, bottomY: 75.5 / 100 });
});

const table: Array<[string, DecodedPng, boolean]> = [
  ['the desktop scaled into the kiosk under its toolbar', screen([[toolbar, 6], [PATTERN_TOP, 36], [PATTERN_BOTTOM, 33]]), true],
  ['the portal while connecting (no pattern)', screen([[toolbar, 6]]), false],
  ['colours swapped (cyan above magenta)', screen([[PATTERN_BOTTOM, 36], [PATTERN_TOP, 33]]), false],
  ['a sliver of each colour', screen([[PATTERN_TOP, 5], [PATTERN_BOTTOM, 5]]), false],
  ['another proportion than the desktop has', screen([[PATTERN_TOP, 60], [PATTERN_BOTTOM, 20]]), false],
];
for (const [name, png, want] of table) test(name, () => assert.equal(showsDesktopPattern(patternOn(png), desktopOwn), want));

test('a desktop that does not show the pattern itself proves nothing', () => {
  const seen = patternOn(screen([[PATTERN_TOP, 36], [PATTERN_BOTTOM, 33]]));
  assert.equal(showsDesktopPattern(seen, patternOn(screen([[toolbar, 100]]))), false);
});

test('the profile paints only a non-root login on tty1, and keeps the image\'s own profile', () => {
  const profile = patternProfile('export PATH=/bin\n');
  assert.match(profile, /^export PATH=\/bin\n/);
  assert.match(profile, /if \[ "\$\(id -u\)" != 0 \] && \[ "\$\(tty\)" = \/dev\/tty1 \]; then/);
  assert.match(profile, /\\033\[0;37;45m\\033\[2J/);
  assert.match(profile, /\\033\[14;1H\\033\[0;30;46m\\033\[J/);
});

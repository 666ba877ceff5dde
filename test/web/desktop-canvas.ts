// How a browser test sees a desktop on the portal's noVNC canvas: the display connected, then the session's xterm
// (white, at a fixed place) drawn. Shared by the desktop flow test and the login-screen benchmark.
import type { Page } from 'playwright-core';
import { screenshot, until } from './browser.js';

/** Where the session's xterm sits (desktop-session: -geometry 90x24+40+40), in framebuffer pixels. */
export const XTERM_POINT = { x: 160, y: 120 };

export interface CanvasFacts {
  width: number;
  height: number;
  colours: number;
  /** Share of pure green (#00ff00) pixels. */
  green: number;
  /** The pixel at XTERM_POINT. */
  at: [number, number, number];
}

export async function canvasFacts(page: Page): Promise<CanvasFacts> {
  return page.evaluate((point) => {
    const canvas = document.querySelector('.vnc-screen canvas') as HTMLCanvasElement | null;
    if (!canvas || canvas.width === 0) return { width: 0, height: 0, colours: 0, green: 0, at: [0, 0, 0] as [number, number, number] };
    const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
    const colours = new Set<number>();
    let green = 0;
    for (let i = 0; i < data.length; i += 4) {
      colours.add((data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!);
      if (data[i] === 0 && data[i + 1] === 255 && data[i + 2] === 0) green++;
    }
    const p = (point.y * canvas.width + point.x) * 4;
    return { width: canvas.width, height: canvas.height, colours: colours.size, green: green / (data.length / 4), at: [data[p]!, data[p + 1]!, data[p + 2]!] as [number, number, number] };
  }, XTERM_POINT);
}

/** The session's xterm (white background) is on the screen once the desktop has drawn it. */
export function xtermDrawn(f: CanvasFacts): boolean {
  return f.colours >= 8 && f.at.every((c) => c > 240);
}

/** Presses Open for `pool` in the portal and waits for the display to connect and the xterm to be drawn on it. */
export async function openDesktopAndWaitForXterm(page: Page, pool: string, timeoutMs: number, failureShot = 'desktop-flow-failure'): Promise<void> {
  await page.getByRole('button', { name: `Open ${pool}` }).click();
  await waitForXterm(page, timeoutMs, failureShot);
}

/** Waits for the display to connect and the session's xterm to be drawn on the canvas. */
export async function waitForXterm(page: Page, timeoutMs: number, failureShot: string): Promise<void> {
  try {
    await page.locator('[data-status="connected"]').waitFor({ timeout: timeoutMs });
  } catch (err) {
    // Say what the person would have seen: the display status or the notice of a failed connect.
    await screenshot(page, failureShot).catch(() => undefined);
    const seen = await page.locator('body').innerText().catch(() => '(page gone)');
    throw new Error(`the desktop display did not connect; the page said:\n${seen}\n${String(err)}`);
  }
  await until('the xterm on the canvas', async () => xtermDrawn(await canvasFacts(page)) || undefined, timeoutMs, 500);
}

// Where the first frame is in a VNC server's byte stream (RFB 3.3/3.7/3.8, RFC 6143) (pure): after the
// handshake and ServerInit, the first FramebufferUpdate rectangle that carries pixels (not a pseudo-encoding
// such as the desktop size or the cursor). The display path reports when the bytes up to there went to the browser.

export type FirstFrameScan =
  | { found: true; end: number } // the stream offset just past the first pixel rectangle's header
  | { found: false; more: true } // not there yet: scan again with more bytes
  | { found: false; more: false; why: string }; // the stream cannot be followed (an unknown message or security type)

/** Pseudo-encodings QEMU and noVNC use, with their payload length (w, h, bytes per pixel; reading `at` when it has a count). */
const PSEUDO: Record<number, (w: number, h: number, bpp: number, b: Uint8Array, at: number) => number | undefined> = {
  [-223]: () => 0, // DesktopSize
  [-224]: () => 0, // LastRect
  [-257]: () => 0, // QEMU pointer motion change
  [-258]: () => 0, // QEMU extended key event
  [-259]: () => 0, // QEMU audio
  [-261]: () => 1, // QEMU LED state
  [-239]: (w, h, bpp) => w * h * bpp + Math.ceil(w / 8) * h, // Cursor
  [-240]: (w, h) => (w * h === 0 ? 0 : 6 + 2 * Math.ceil(w / 8) * h), // XCursor
  [-307]: (_w, _h, _bpp, b, at) => (at + 4 <= b.length ? 4 + u32(b, at) : undefined), // DesktopName
  [-308]: (_w, _h, _bpp, b, at) => (at + 1 <= b.length ? 4 + 16 * b[at]! : undefined), // ExtendedDesktopSize
};

const u16 = (b: Uint8Array, at: number) => (b[at]! << 8) | b[at + 1]!;
const u32 = (b: Uint8Array, at: number) => ((b[at]! << 24) >>> 0) + (b[at + 1]! << 16) + (b[at + 2]! << 8) + b[at + 3]!;
const s32 = (b: Uint8Array, at: number) => u32(b, at) | 0;

const MORE: FirstFrameScan = { found: false, more: true };
const stop = (why: string): FirstFrameScan => ({ found: false, more: false, why });

/** Scans the server → client bytes from the connection's start. */
export function rfbFirstFrame(b: Uint8Array): FirstFrameScan {
  if (b.length < 12) return MORE;
  const version = /^RFB (\d{3})\.(\d{3})\n$/.exec(Buffer.from(b.subarray(0, 12)).toString('latin1'));
  if (!version) return stop('not an RFB server');
  const minor = Number(version[2]);
  let at = 12;
  if (minor >= 7) {
    if (at + 1 > b.length) return MORE;
    const n = b[at]!;
    if (n === 0) return stop('the server refused the connection');
    if (at + 1 + n > b.length) return MORE;
    const types = [...b.subarray(at + 1, at + 1 + n)];
    at += 1 + n;
    // The display socket is reached through the daemon's ticket: QEMU's socket offers "None".
    if (!types.includes(1)) return stop(`security types ${types.join(',')} (only None is followed)`);
    if (minor >= 8) at += 4; // SecurityResult
  } else {
    if (at + 4 > b.length) return MORE;
    const type = u32(b, at);
    if (type !== 1) return stop(`security type ${type} (only None is followed)`);
    at += 4;
  }
  // ServerInit: width, height, pixel format (bits per pixel first), name.
  if (at + 24 > b.length) return MORE;
  const bpp = Math.max(1, b[at + 4]! / 8);
  at += 24 + u32(b, at + 20);
  for (;;) {
    if (at + 1 > b.length) return MORE;
    const type = b[at]!;
    if (type === 0) {
      if (at + 4 > b.length) return MORE;
      let rects = u16(b, at + 2);
      at += 4;
      for (; rects > 0; rects--) {
        if (at + 12 > b.length) return MORE;
        const w = u16(b, at + 4);
        const h = u16(b, at + 6);
        const encoding = s32(b, at + 8);
        at += 12;
        if (encoding >= 0) return { found: true, end: at };
        const size = PSEUDO[encoding];
        if (!size) return stop(`pseudo-encoding ${encoding} is not followed`);
        const len = size(w, h, bpp, b, at);
        if (len === undefined) return MORE;
        at += len;
        if (encoding === -224) break; // LastRect: the update ends here
      }
    } else if (type === 1) {
      if (at + 6 > b.length) return MORE;
      at += 6 + 6 * u16(b, at + 4); // SetColourMapEntries
    } else if (type === 2) {
      at += 1; // Bell
    } else if (type === 3) {
      if (at + 8 > b.length) return MORE;
      at += 8 + Math.abs(s32(b, at + 4)); // ServerCutText (negative: extended clipboard)
    } else {
      return stop(`server message type ${type} is not followed`);
    }
  }
}

/**
 * Follows one display connection: `desktopBytes` with what the desktop sent (from its start), `sent` with how
 * many of them reached the browser's socket; `onFirstFrame` runs once, when the first frame's bytes went out.
 */
export class FirstFrameWatch {
  private readonly seen: Buffer[] = [];
  private seenBytes = 0;
  private end: number | undefined;
  private done = false;
  /** The most bytes looked at: the first frame is far earlier; past this, nothing is reported. */
  static readonly LIMIT = 64 * 1024;

  constructor(private readonly onFirstFrame: () => void) {}

  /** Whether the first frame is still to be reported. */
  get pending(): boolean {
    return !this.done;
  }

  /** Whether desktop bytes are still wanted. */
  get wants(): boolean {
    return !this.done && this.end === undefined && this.seenBytes < FirstFrameWatch.LIMIT;
  }

  desktopBytes(bytes: Uint8Array): void {
    if (!this.wants || bytes.length === 0) return;
    this.seen.push(Buffer.from(bytes.subarray(0, FirstFrameWatch.LIMIT - this.seenBytes)));
    this.seenBytes += Math.min(bytes.length, FirstFrameWatch.LIMIT - this.seenBytes);
    const scan = rfbFirstFrame(Buffer.concat(this.seen));
    if (scan.found) this.end = scan.end;
    else if (!scan.more) this.done = true;
  }

  sent(total: number): void {
    if (this.done || this.end === undefined || total < this.end) return;
    this.done = true;
    this.onFirstFrame();
  }
}

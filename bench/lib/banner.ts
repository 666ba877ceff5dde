// Waiting for the guest's banner in a stream of console bytes, wherever the bytes come from.

/** Accumulates console text and tells when the banner has been seen (it may span chunks). */
export class BannerWatch {
  private tail = '';
  seenAt: number | undefined;

  constructor(private readonly banner: string) {}

  /** Feeds a chunk; returns true the first time the banner is complete. */
  feed(chunk: Buffer | string, now = performance.now()): boolean {
    if (this.seenAt !== undefined) return false;
    // Keep only what a banner split across chunks could still need.
    this.tail = (this.tail + chunk.toString()).slice(-(this.banner.length + 4096));
    if (!this.tail.includes(this.banner)) return false;
    this.seenAt = now;
    return true;
  }
}

export class BannerTimeoutError extends Error {
  constructor(where: string, timeoutMs: number) {
    super(`no guest banner on ${where} within ${timeoutMs} ms`);
    this.name = 'BannerTimeoutError';
  }
}

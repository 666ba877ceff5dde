// cu-style escapes on console input: "~." at the start of a line detaches, "~n" switches to the next
// console, "~~" sends one "~". Pure: bytes in, bytes to forward and actions out.
export type EscapeAction = 'detach' | 'next';

export class EscapeReader {
  private atLineStart = true;
  private pendingTilde = false;

  feed(input: Uint8Array): { forward: Buffer; actions: EscapeAction[] } {
    const out: number[] = [];
    const actions: EscapeAction[] = [];
    for (const byte of input) {
      if (this.pendingTilde) {
        this.pendingTilde = false;
        if (byte === 0x2e /* . */) {
          actions.push('detach');
          continue;
        }
        if (byte === 0x6e /* n */) {
          actions.push('next');
          this.atLineStart = true;
          continue;
        }
        out.push(0x7e);
        if (byte === 0x7e) {
          this.atLineStart = false;
          continue;
        }
      } else if (byte === 0x7e /* ~ */ && this.atLineStart) {
        this.pendingTilde = true;
        continue;
      }
      out.push(byte);
      this.atLineStart = byte === 0x0d || byte === 0x0a;
    }
    return { forward: Buffer.from(out), actions };
  }
}

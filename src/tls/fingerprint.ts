// SHA-256 certificate fingerprints as people copy them: AB:CD:… (what openssl and browsers show) or plain hex.
import { ArdesiaError } from '../contract/errors.js';

const SHA256_HEX_DIGITS = 64;

/** Upper-case, colon-separated, as Node's `fingerprint256`; throws TLS_FINGERPRINT_INVALID for anything else. */
export function fingerprintParse(text: string): string {
  const hex = text.trim().replace(/^sha256[:=/]?/i, '').replace(/[:\s]/g, '').toUpperCase();
  if (!/^[0-9A-F]+$/.test(hex) || hex.length !== SHA256_HEX_DIGITS) {
    throw new ArdesiaError('TLS_FINGERPRINT_INVALID', `"${text.slice(0, 120)}" is not a SHA-256 fingerprint (64 hex digits, colons allowed)`);
  }
  return hex.match(/../g)!.join(':');
}

export function fingerprintEquals(a: string, b: string): boolean {
  return fingerprintParse(a) === fingerprintParse(b);
}

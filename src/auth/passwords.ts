// Password hashing (argon2id) and the password policy. The policy is pure; hashing is the only I/O-ish part.
import { randomBytes } from 'node:crypto';
import argon2 from 'argon2';

/** Stronger than OWASP's argon2id minimum (m=19 MiB, t=2, p=1): 19 MiB, 3 passes, 1 lane. */
export const ARGON2_PARAMS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 3, parallelism: 1 } as const;
export const PASSWORD_MIN_LENGTH = 10;
export const PASSWORD_MAX_LENGTH = 256;

/** Why a password is refused, or undefined when it is acceptable. */
export function passwordProblem(password: string, user: string): string | undefined {
  if (password.length < PASSWORD_MIN_LENGTH) return `a password needs at least ${PASSWORD_MIN_LENGTH} characters`;
  if (password.length > PASSWORD_MAX_LENGTH) return `a password has at most ${PASSWORD_MAX_LENGTH} characters`;
  if (password.toLowerCase().includes(user.toLowerCase())) return 'a password must not contain the user name';
  if (new Set(password).size < 4) return 'a password needs at least 4 different characters';
  return undefined;
}

/** 18 random bytes in base64url: 24 characters, ~144 bits. */
export function passwordGenerate(): string {
  return randomBytes(18).toString('base64url');
}

export function passwordHash(password: string): Promise<string> {
  return argon2.hash(password, ARGON2_PARAMS);
}

export async function passwordVerify(hash: string, password: string): Promise<boolean> {
  try {
    return await argon2.verify(hash, password);
  } catch {
    return false; // a damaged hash never lets anyone in
  }
}

let dummyHash: Promise<string> | undefined;

/** Spends one hash's time for an unknown user, so the answer time does not tell which names exist. */
export async function passwordVerifyDummy(password: string): Promise<false> {
  dummyHash ??= passwordHash(passwordGenerate());
  await passwordVerify(await dummyHash, password);
  return false;
}

// The success bodies of the two-factor and site-settings routes (strict, typed by src/contract).
import { z } from 'zod';
import type { MfaEnrolment, MfaRecoveryCodes, MfaStatus, SiteSettings } from '../contract/users.js';

export const MfaEnrolmentBody = z.object({ secret: z.string(), uri: z.string(), qrCode: z.string() }).strict() satisfies z.ZodType<MfaEnrolment>;
export const MfaRecoveryCodesBody = z.object({ recoveryCodes: z.array(z.string()) }).strict() satisfies z.ZodType<MfaRecoveryCodes>;
export const MfaStatusBody = z
  .object({ user: z.string(), enabled: z.boolean(), pending: z.boolean(), recoveryCodesLeft: z.number().int() })
  .strict() satisfies z.ZodType<MfaStatus>;
export const SiteSettingsBody = z.object({ adminsMustUseMfa: z.boolean() }).strict() satisfies z.ZodType<SiteSettings>;

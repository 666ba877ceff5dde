// Wire types of the API contract (/work/briefs/api-contract.md); shared ones come from src/contract.
import type { DesktopState, DesktopView, Pool, PoolView, SessionInfo } from '../../../src/contract/pools';
import type { ImageInfo, ImageVersion, Operation } from '../../../src/contract/images';
import type { GroupView, Me, MfaEnrolment, MfaRecoveryCodes, MfaStatus, Role, SiteSettings, UserView } from '../../../src/contract/users';
import type { ThinClientPatch as CheckedThinClientPatch, ThinClientView } from '../../../src/contract/thinclients';
import type { DirectoryConnectionResult, DirectorySourceSettings, DirectorySourceView, DirectorySyncResult } from '../../../src/contract/directory';

export type { DirectoryConnectionResult, DirectorySourceSettings, DirectorySourceView, DirectorySyncResult };
export type { DesktopState, DesktopView, Pool, PoolView, ImageInfo, ImageVersion, Operation, GroupView, Me, Role, UserView, ThinClientView };
export type { MfaEnrolment, MfaRecoveryCodes, MfaStatus, SiteSettings };

/** A source's settings as the form sends them: the server checks them with the --directory file's schema; no password = keep the stored one. */
export type DirectorySourceInput = Partial<Omit<DirectorySourceSettings, 'bind'>> & { name: string; bind?: { dn: string; password?: string } };

/** A thin client's settings as typed in a form: the server checks each value (a screen mode, a pool…) and names what to fix. */
export type ThinClientPatch = { [K in keyof CheckedThinClientPatch]?: string | null };
export type ThinClientCreate = ThinClientPatch & { mac: string };

/** The API's session view. */
export type SessionView = SessionInfo;

export interface ConnectResult {
  desktop: DesktopView;
  session: SessionView;
}

export interface DisplayTicket {
  ticket: string;
  path: string;
  expiresAt: string;
}

export interface HostView {
  cpu: { vendor: string; model: string; vmx: boolean; svm: boolean; nestedPaging: string | null; inVm: boolean };
  devKvm: { exists: boolean; accessible: boolean; error?: string };
  probe: { ran: boolean; ok: boolean; detail: string; ms: number };
  qemu: { binary: string; version: string | null };
  accel: 'kvm' | 'tcg';
  verdict: string;
}


export interface AuditEntry {
  id: number | string;
  at: string;
  principal: string;
  action: string;
  target: string;
  detail: unknown;
  address?: string | null;
}

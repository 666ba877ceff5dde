// Wire types of the API contract (/work/briefs/api-contract.md); shared ones come from src/contract.
import type { DesktopState, DesktopView, Pool } from '../../../src/contract/pools';
import type { ImageInfo, ImageVersion, Operation } from '../../../src/contract/images';

export type { DesktopState, DesktopView, Pool, ImageInfo, ImageVersion, Operation };

export type Role = 'admin' | 'user';

export interface Me {
  user: string;
  admin: boolean;
  roles: Role[];
  groups: string[];
  keyboardLayout: string;
}

export interface UserView {
  name: string;
  fullName: string;
  roles: Role[];
  groups: string[];
  admin: boolean;
  disabled: boolean;
  keyboardLayout: string;
  createdAt: string;
  lastLoginAt: string | null;
}

export interface GroupView {
  name: string;
  members: string[];
}

export interface PoolView extends Pool {
  currentVersion: number | null;
  counts: { total: number; byState: Record<string, number>; byVersion: Record<string, number> };
}

export interface SessionView {
  user: string;
  pool: string;
  desktop: string;
  state: DesktopState;
  since: string;
  clients: number;
  lastClient: { address: string; thinClient?: string } | null;
}

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

export interface ThinClientView {
  mac: string;
  name: string | null;
  place: string | null;
  pool: string | null;
  state: 'new' | 'enabled' | 'disabled';
  autoLoginUser: string | null;
  keyboardLayout: string | null;
  resolution: string | null;
  bootParams: string | null;
  lastSeenAt: string | null;
  lastIp: string | null;
  bootCount: number;
  currentUser: string | null;
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

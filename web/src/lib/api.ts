// The browser's API client: one fetch wrapper (cookie auth, JSON, typed errors) and one function per route.
import type {
  AuditEntry,
  DirectoryConnectionResult,
  DirectorySourceInput,
  DirectorySourceView,
  DirectorySyncResult,
  ConnectResult,
  DesktopView,
  DisplayTicket,
  GroupView,
  HostView,
  ImageInfo,
  Me,
  MfaEnrolment,
  MfaRecoveryCodes,
  MfaStatus,
  SiteSettings,
  Operation,
  Pool,
  PoolView,
  SessionView,
  ThinClientCreate,
  ThinClientPatch,
  ThinClientView,
  UserView,
} from './types';
import { ERROR_REGISTRY, type ErrorCode, isErrorCode } from '../../../src/contract/errors';
import type { HostDetail as ClusterHostDetail, HostView as ClusterHostView, KsmMode, KsmReport } from '../../../src/contract/hosts';
import type { TimelineView, UsageReportView } from '../../../src/contract/timeline';
import type { NetbootStatus } from '../../../src/contract/netboot';

/** The registry's codes, NETWORK when the server cannot be reached, HTTP_ERROR for an answer that is no API error (a proxy's page). */
export type ApiErrorCode = ErrorCode | 'NETWORK' | 'HTTP_ERROR';

/** An error answer of the API: `{ error: { code, message, hint } }`, or a network failure (code NETWORK). */
export class ApiError extends Error {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly hint: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError('NETWORK', 'The server cannot be reached.', 'Check the network connection; this page retries by itself.', 0);
  }
  const text = await res.text();
  const data: unknown = text ? safeJson(text) : undefined;
  if (!res.ok) {
    throw apiErrorOf(res.status, res.statusText, data);
  }
  return data as T;
}

/** The ApiError of a failed answer; a code this build does not know is kept out of the typed codes. */
export function apiErrorOf(status: number, statusText: string, data: unknown): ApiError {
  const err = (data as { error?: { code?: unknown; message?: string; hint?: string } } | undefined)?.error;
  if (err && isErrorCode(err.code)) return new ApiError(err.code, err.message ?? err.code, err.hint || ERROR_REGISTRY[err.code].hint, status);
  return new ApiError('HTTP_ERROR', err?.message ?? `The server answered ${status} ${statusText}.`, err?.hint ?? '', status);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const enc = encodeURIComponent;

// Login and the signed-in user
export const authLogin = (user: string, password: string, code?: string) => call<Me>('POST', '/v1/auth/login', { user, password, code });
export const kioskLogin = (thinClient: string) => call<Me>('POST', '/v1/auth/kiosk', { thinClient });
export const mfaStatus = () => call<MfaStatus>('GET', '/v1/auth/mfa');
export const mfaEnrol = () => call<MfaEnrolment>('POST', '/v1/auth/mfa/enrol');
export const mfaConfirm = (code: string) => call<MfaRecoveryCodes>('POST', '/v1/auth/mfa/confirm', { code });
export const userMfaReset = (name: string) => call<MfaStatus>('DELETE', `/v1/users/${enc(name)}/mfa`);
export const siteSettingsShow = () => call<SiteSettings>('GET', '/v1/settings');
export const siteSettingsPatch = (body: Partial<SiteSettings>) => call<SiteSettings>('PATCH', '/v1/settings', body);
export const authLogout = () => call<{ ok: true }>('POST', '/v1/auth/logout');
export const authMe = () => call<Me>('GET', '/v1/auth/me');

// Users and groups
export const userList = () => call<UserView[]>('GET', '/v1/users');
export const userCreate = (body: { name: string; password?: string; roles?: string[]; groups?: string[]; fullName?: string; keyboardLayout?: string; kiosk?: boolean }) =>
  call<UserView & { password?: string }>('POST', '/v1/users', body);
export const userPatch = (name: string, body: Partial<Pick<UserView, 'roles' | 'groups' | 'disabled' | 'fullName' | 'keyboardLayout'>>) =>
  call<UserView>('PATCH', `/v1/users/${enc(name)}`, body);
export const userPasswordSet = (name: string, body: { current?: string; password: string }) => call<unknown>('POST', `/v1/users/${enc(name)}/password`, body);
export const userDelete = (name: string) => call<unknown>('DELETE', `/v1/users/${enc(name)}`);
export const groupList = () => call<GroupView[]>('GET', '/v1/groups');
export const groupCreate = (name: string) => call<unknown>('POST', '/v1/groups', { name });
export const groupDelete = (name: string) => call<unknown>('DELETE', `/v1/groups/${enc(name)}`);
export const directorySources = () => call<DirectorySourceView[]>('GET', '/v1/directory/sources');
export const directorySourceCreate = (body: DirectorySourceInput) => call<DirectorySourceView>('POST', '/v1/directory/sources', body);
export const directorySourceReplace = (name: string, body: DirectorySourceInput) => call<DirectorySourceView>('PUT', `/v1/directory/sources/${enc(name)}`, body);
export const directorySourceDelete = (name: string) => call<{ deleted: string; ended: string[] }>('DELETE', `/v1/directory/sources/${enc(name)}`);
export const directoryConnectionTest = (body: DirectorySourceInput) => call<DirectoryConnectionResult>('POST', '/v1/directory/connection-test', body);
export const directorySync = () => call<DirectorySyncResult[]>('POST', '/v1/directory/sync', {});

// Pools, desktops, sessions
export const poolList = () => call<PoolView[]>('GET', '/v1/pools');
export const poolCreate = (body: Partial<Pool> & { name: string; image: string }) => call<PoolView>('POST', '/v1/pools', body);
export const poolPatch = (name: string, body: Partial<Pool>) => call<PoolView>('PATCH', `/v1/pools/${enc(name)}`, body);
export const poolDelete = (name: string) => call<unknown>('DELETE', `/v1/pools/${enc(name)}`);
export const poolDesktops = (name: string) => call<DesktopView[]>('GET', `/v1/pools/${enc(name)}/desktops`);
export const poolConnect = (name: string, thinClient?: string) =>
  call<ConnectResult>('POST', `/v1/pools/${enc(name)}/connect`, { wait: true, ...(thinClient ? { client: { thinClient } } : {}) });
export const poolDesktopReset = (pool: string, desktop: string) => call<unknown>('POST', `/v1/pools/${enc(pool)}/desktops/${enc(desktop)}/reset`);
/** A failed desktop tried again: a fresh clone (a persistent owner's kept disk is booted again). */
export const poolDesktopRetry = (pool: string, desktop: string) => call<unknown>('POST', `/v1/pools/${enc(pool)}/desktops/${enc(desktop)}/retry`);
/** The session's user (where the pool allows it): end the session and re-clone the desktop. */
export const sessionReset = (desktop: string) => call<unknown>('POST', `/v1/sessions/${enc(desktop)}/reset`);
export const sessionList = () => call<SessionView[]>('GET', '/v1/sessions');
export const usageReport = (from: string, to: string) => call<UsageReportView>('GET', `/v1/reports/usage?from=${enc(from)}&to=${enc(to)}`);
export const sessionTimeline = (desktop: string, limit = 1) => call<TimelineView[]>('GET', `/v1/sessions/${enc(desktop)}/timeline?limit=${limit}`);
export const sessionLogoff = (desktop: string) => call<unknown>('POST', `/v1/sessions/${enc(desktop)}/logoff`);
export const sessionDisconnect = (desktop: string) => call<unknown>('POST', `/v1/sessions/${enc(desktop)}/disconnect`);
export const poolDesktopRetire = (pool: string, desktop: string) => call<unknown>('DELETE', `/v1/pools/${enc(pool)}/desktops/${enc(desktop)}`);

// Display
export const displayTicket = (desktop: string) => call<DisplayTicket>('POST', `/v1/desktops/${enc(desktop)}/display`, {});

// Host, images, operations, thin clients, audit
export const hostShow = () => call<HostView>('GET', '/v1/host');
export const imageList = () => call<ImageInfo[]>('GET', '/v1/images');
export const imageCreate = (body: { name: string; from?: string; format?: 'qcow2' | 'raw' | 'vmdk' | 'vdi' | 'vhdx'; iso?: string; sizeBytes?: number; build?: 'debian' }) => call<Operation>('POST', '/v1/images', body);
export const imageEdit = (name: string) => call<unknown>('POST', `/v1/images/${enc(name)}/edit`);
export const imagePublish = (name: string) => call<Operation>('POST', `/v1/images/${enc(name)}/publish`, {});
export const imageDiscard = (name: string) => call<unknown>('POST', `/v1/images/${enc(name)}/discard`);
export const imageRollback = (name: string, to: number) => call<unknown>('POST', `/v1/images/${enc(name)}/rollback`, { to });
export const operationShow = (id: string) => call<Operation>('GET', `/v1/operations/${enc(id)}`);
export const thinClientList = () => call<ThinClientView[]>('GET', '/v1/thinclients');
/** Adds a PC by MAC before its first boot (enabled unless `state` says otherwise). */
export const thinClientCreate = (body: ThinClientCreate) => call<ThinClientView>('POST', '/v1/thinclients', body);
/** Changes only the fields given; null clears one. */
export const thinClientPatch = (mac: string, body: ThinClientPatch) => call<ThinClientView>('PATCH', `/v1/thinclients/${enc(mac)}`, body);
export const thinClientDelete = (mac: string) => call<unknown>('DELETE', `/v1/thinclients/${enc(mac)}`);
export const clusterHostList = () => call<ClusterHostView[]>('GET', '/v1/hosts');
export const clusterHostDrain = (name: string) => call<ClusterHostDetail>('POST', `/v1/hosts/${enc(name)}/drain`);
export const clusterHostUndrain = (name: string) => call<ClusterHostDetail>('POST', `/v1/hosts/${enc(name)}/undrain`);
export const clusterHostKsmSet = (name: string, mode: KsmMode) => call<KsmReport>('PUT', `/v1/hosts/${enc(name)}/ksm`, { mode });
export const netbootStatus = () => call<NetbootStatus>('GET', '/v1/netboot');
export const clusterHostLabelsSet = (name: string, labels: string[]) => call<ClusterHostDetail>('PUT', `/v1/hosts/${enc(name)}/labels`, { labels });
export const clusterHostRemove = (name: string) => call<{ removed: string }>('DELETE', `/v1/hosts/${enc(name)}`);
export const auditList = (limit = 200) => call<AuditEntry[]>('GET', `/v1/audit?limit=${limit}`);

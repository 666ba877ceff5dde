// Netboot's configuration as the API shows it (GET/PUT/DELETE /v1/netboot): where it comes from and whether it runs.

export const NETBOOT_SOURCES = ['serve', 'api', 'none'] as const;
export type NetbootSource = (typeof NETBOOT_SOURCES)[number];

export interface NetbootStatus {
  /** serve: the daemon's --netboot FILE (not editable through the API); api: set through the API; none: no netboot. */
  source: NetbootSource;
  file: string | null;
  /** The configuration as checked, defaults filled in (src/netboot/config.ts); null without one. */
  config: { interfaces: unknown[]; [setting: string]: unknown } | null;
  running: boolean;
  /** Why a stored configuration did not start when the daemon did (an address gone from the host). */
  error: string | null;
}

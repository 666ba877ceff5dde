// Thin-client inventory and persisted DHCP leases: this domain's table types (part of the store's Database).

export interface ThinClientTable {
  /** Lower-case, colon-separated, as iPXE prints `${mac}`. */
  mac: string;
  name: string | null;
  place: string | null;
  pool: string | null;
  state: 'new' | 'enabled' | 'disabled';
  keyboard_layout: string | null;
  resolution: string | null;
  /** Extra kernel command line words, appended after the OS manifest's. */
  boot_params: string | null;
  last_seen_at: string | null;
  last_ip: string | null;
  /** Boot scripts served (a disabled client's retries do not count). */
  boot_count: number;
  /** Set by the broker while a user's desktop is open on this client. */
  current_user: string | null;
  /** The kiosk account this client opens at boot, without a login page. */
  kiosk_user: string | null;
  created_at: string;
}

export interface DhcpLeaseTable {
  ip: string;
  /** Empty for an address held back after a DECLINE. */
  mac: string;
  expires_at_ms: number;
  hostname: string | null;
  declined: number;
}

export interface NetbootTables {
  thin_clients: ThinClientTable;
  dhcp_leases: DhcpLeaseTable;
}

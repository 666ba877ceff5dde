// Thin-client inventory and persisted DHCP leases: this domain's table types (part of the store's Database).

export interface NetbootTables {}

// Pools, pool desktops with their lifecycle state, and sessions: this domain's table types (part of the store's Database).

export interface PoolTables {}

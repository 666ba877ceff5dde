// Users, groups, roles, browser sessions and login attempts: this domain's table types (part of the store's Database).

export interface AuthTables {}

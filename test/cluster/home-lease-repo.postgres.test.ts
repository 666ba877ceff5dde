// The home-lease store functions (slots, host ids, holder, generation) on PostgreSQL: the same cases as on SQLite.
import { homeLeaseRepoTests } from '../../src/cluster/home-leases/repo.test.js';
import { openStore, storeLocation } from '../../src/store/db.js';
import { freshDatabase } from '../helpers/postgres.js';

homeLeaseRepoTests(async () => openStore(storeLocation(await freshDatabase(), '/nonexistent')), 'postgres');

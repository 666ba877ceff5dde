// test/cluster/hosts.test.ts again, every daemon it starts keeping its store in a fresh PostgreSQL database.
process.env.ARDESIA_TEST_STORE = 'postgres';
await import('./hosts.test.js');

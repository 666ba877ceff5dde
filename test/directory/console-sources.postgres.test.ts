// test/directory/console-sources.test.ts again, the console's sources (and their write-only bind password) kept in PostgreSQL.
process.env.ARDESIA_TEST_STORE = 'postgres';
await import('./console-sources.test.js');

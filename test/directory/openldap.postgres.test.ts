// test/directory/openldap.test.ts again, the daemon keeping its store (and the directory users' stable ids) in PostgreSQL.
process.env.ARDESIA_TEST_STORE = 'postgres';
await import('./openldap.test.js');

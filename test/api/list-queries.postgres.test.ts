// test/api/list-queries.test.ts again, every daemon it starts keeping its store in a fresh PostgreSQL database.
process.env.ARDESIA_TEST_STORE = 'postgres';
await import('./list-queries.test.js');

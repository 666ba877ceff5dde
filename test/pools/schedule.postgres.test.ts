// test/pools/schedule.test.ts again, every daemon it starts keeping its store in a fresh PostgreSQL database (the boot-time upsert, the forecast's audit query).
process.env.ARDESIA_TEST_STORE = 'postgres';
await import('./schedule.test.js');

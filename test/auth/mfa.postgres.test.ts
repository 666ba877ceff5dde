// test/auth/mfa.test.ts again on PostgreSQL: the guarded updates that refuse a replayed code or a spent recovery code.
process.env.ARDESIA_TEST_STORE = 'postgres';
await import('./mfa.test.js');

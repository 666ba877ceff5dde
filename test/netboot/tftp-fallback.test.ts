// test/netboot/tftp.test.ts again with the TypeScript sender, the fallback when native/tftp-sender.c is not built.
process.env.ARDESIA_TFTP_SENDER = 'off';
await import('./tftp.test.js');

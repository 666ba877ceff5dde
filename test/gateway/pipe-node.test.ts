// test/gateway/pipe.test.ts again with the Node pipe, the fallback when native/display-relay.c is not built.
process.env.ARDESIA_DISPLAY_RELAY = 'off';
await import('./pipe.test.js');

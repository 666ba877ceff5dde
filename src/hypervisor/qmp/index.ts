// Ardesia's QMP client: import everything QMP from here.
export * from './client.js';
export * from './commands.js';
export * from './errors.js';
export * from './events.js';
export * from './protocol.js';

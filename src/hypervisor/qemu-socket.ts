// A connection to one of QEMU's sockets on this host (its VNC, SPICE, serial or migration socket), refused with the
// registry code the caller's step has.
import { connect, type Socket } from 'node:net';
import { ArdesiaError } from '../contract/errors.js';

/** A connection to a socket of QEMU's on this host; its refusal is `code`, saying which socket did not answer. */
export function socketConnect(to: { path: string } | { host: string; port: number }, code: 'DISPLAY_UNAVAILABLE' | 'VM_NOT_RUNNING' | 'VM_MIGRATION_FAILED', what: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(to);
    socket.once('error', (err) => reject(new ArdesiaError(code, `the ${what} socket did not answer: ${err.message}`)));
    socket.once('connect', () => {
      socket.removeAllListeners('error');
      resolve(socket);
    });
  });
}

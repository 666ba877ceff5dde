// A small RFB client for tests: the version exchange and the security handshake on a VNC socket, with
// VNC authentication (RFB 3.8 §7.2.2: the server's 16-byte challenge, DES-encrypted with the password).
import { createCipheriv } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { ByteReader } from '../gateway/protocols.js';

export const RFB_SECURITY_NONE = 1;
export const RFB_SECURITY_VNC_AUTH = 2;

/**
 * The VNC authentication response: the challenge encrypted with DES-ECB under the password's first 8 bytes
 * (zero-padded), each key byte's bits reversed (the RFB quirk). Single DES is OpenSSL 3's legacy provider;
 * 3DES with the same key three times is the same cipher.
 */
export function vncAuthResponse(challenge: Buffer, password: string): Buffer {
  const key = Buffer.alloc(8);
  Buffer.from(password, 'latin1').copy(key, 0, 0, 8);
  for (let i = 0; i < 8; i++) {
    let b = key[i]!;
    let r = 0;
    for (let bit = 0; bit < 8; bit++, b >>= 1) r = (r << 1) | (b & 1);
    key[i] = r;
  }
  const cipher = createCipheriv('des-ede3-ecb', Buffer.concat([key, key, key]), null);
  cipher.setAutoPadding(false);
  return Buffer.concat([cipher.update(challenge), cipher.final()]);
}

export interface RfbAuthResult {
  /** The security types the server offered. */
  offered: number[];
  /** True when the server's SecurityResult was OK and it then sent its ServerInit. */
  accepted: boolean;
  /** The server's reason when it refused. */
  reason?: string;
  /** The desktop name from ServerInit, when accepted. */
  name?: string;
}

/**
 * Connects to a VNC unix socket and authenticates: with `password`, VNC authentication; without, it asks
 * for security type None (which a password-protected server refuses with its own SecurityResult).
 */
export async function rfbAuthenticate(path: string, password: string | undefined): Promise<RfbAuthResult> {
  const socket: Socket = connect(path);
  const r = new ByteReader();
  socket.on('data', (d: Buffer) => r.push(d));
  socket.on('close', () => r.end('the VNC server closed the connection'));
  socket.on('error', () => undefined);
  try {
    const version = (await r.read(12)).toString('latin1');
    if (!/^RFB 003\.00[78]\n$/.test(version)) throw new Error(`not an RFB 3.7/3.8 server: ${JSON.stringify(version)}`);
    socket.write('RFB 003.008\n');
    const count = (await r.read(1))[0]!;
    if (count === 0) return { offered: [], accepted: false, reason: (await r.read((await r.read(4)).readUInt32BE(0))).toString() };
    const offered = [...(await r.read(count))];
    const wanted = password === undefined ? RFB_SECURITY_NONE : RFB_SECURITY_VNC_AUTH;
    socket.write(Buffer.from([wanted]));
    if (wanted === RFB_SECURITY_VNC_AUTH) socket.write(vncAuthResponse(await r.read(16), password!));
    const result = (await r.read(4)).readUInt32BE(0);
    if (result !== 0) return { offered, accepted: false, reason: (await r.read((await r.read(4)).readUInt32BE(0))).toString('latin1').replace(/\0$/, '') };
    socket.write(Buffer.from([1])); // ClientInit: shared
    const init = await r.read(24);
    return { offered, accepted: true, name: (await r.read(init.readUInt32BE(20))).toString('utf8') };
  } finally {
    socket.destroy();
  }
}

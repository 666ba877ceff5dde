// Minimal clients of the two display protocols, enough to prove what the gateway and QEMU do:
// the start of RFB (handshake, init, one FramebufferUpdate) over a WebSocket, and the SPICE link
// with its RSA-encrypted ticket (spice-protocol: SpiceLinkHeader, SpiceLinkMess, SpiceLinkReply).
import { constants, createPublicKey, publicEncrypt } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect, type PeerCertificate } from 'node:tls';
import type WebSocket from 'ws';

/** Bytes from a stream of chunks, read by exact lengths (RFB and SPICE are length-framed). */
export class ByteReader {
  private chunks: Buffer[] = [];
  private length = 0;
  private wake: (() => void) | undefined;
  private ended: Error | undefined;

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.length += chunk.length;
    this.wake?.();
  }

  end(why: string): void {
    this.ended = new Error(why);
    this.wake?.();
  }

  async read(n: number): Promise<Buffer> {
    while (this.length < n) {
      if (this.ended) throw this.ended;
      await new Promise<void>((ok) => (this.wake = ok));
      this.wake = undefined;
    }
    const all = Buffer.concat(this.chunks);
    this.chunks = all.length > n ? [all.subarray(n)] : [];
    this.length = all.length - n;
    return all.subarray(0, n);
  }
}

export interface RfbResult {
  version: string;
  securityTypes: number[];
  width: number;
  height: number;
  name: string;
  /** The first server message after the update request: 0 is FramebufferUpdate. */
  firstMessageType: number;
  rectangles: number;
}

/** Version, security "None", ClientInit, then a full FramebufferUpdateRequest and the reply's header; `reader` must have listened since the socket was made. */
export async function rfbStart(display: { ws: WebSocket; reader: ByteReader }): Promise<RfbResult> {
  const { ws, reader: r } = display;
  const version = (await r.read(12)).toString('latin1');
  ws.send(Buffer.from('RFB 003.008\n'));
  const count = (await r.read(1))[0]!;
  if (count === 0) throw new Error(`the VNC server refused: ${(await r.read((await r.read(4)).readUInt32BE(0))).toString()}`);
  const securityTypes = [...(await r.read(count))];
  ws.send(Buffer.from([1]));
  const result = (await r.read(4)).readUInt32BE(0);
  if (result !== 0) throw new Error(`security result ${result}`);
  ws.send(Buffer.from([1])); // ClientInit: shared
  const init = await r.read(24);
  const width = init.readUInt16BE(0);
  const height = init.readUInt16BE(2);
  const name = (await r.read(init.readUInt32BE(20))).toString('utf8');
  const request = Buffer.alloc(10);
  request.writeUInt8(3, 0); // FramebufferUpdateRequest, not incremental, the whole screen
  request.writeUInt16BE(width, 6);
  request.writeUInt16BE(height, 8);
  ws.send(request);
  const head = await r.read(4);
  return { version, securityTypes, width, height, name, firstMessageType: head[0]!, rectangles: head.readUInt16BE(2) };
}

const SPICE_MAGIC = Buffer.from('REDQ', 'latin1');
const SPICE_LINK_MESS_BYTES = 18;
const SPICE_TICKET_PUBKEY_BYTES = 162;
export const SPICE_LINK_ERR_OK = 0;
export const SPICE_LINK_ERR_PERMISSION_DENIED = 7;

/** SPICE over TLS as remote-viewer does it with a .vv: the chain against `ca`, then the certificate's subject. */
export interface SpiceTls {
  ca: string;
  /** Like "O=Ardesia,CN=ardesia-spice" (the .vv's host-subject). */
  hostSubject: string;
}

const subjectText = (cert: PeerCertificate) => Object.entries(cert.subject).map(([k, v]) => `${k}=${String(v)}`).join(',');

/** Links the main channel with a password; returns QEMU's link result (0 OK, 7 permission denied). */
export async function spiceLink(host: string, port: number, password: string, tls?: SpiceTls): Promise<number> {
  const socket: Socket = tls
    ? tlsConnect({ host, port, ca: tls.ca, checkServerIdentity: (_h, cert) => (subjectText(cert) === tls.hostSubject ? undefined : new Error(`certificate subject ${subjectText(cert)} is not ${tls.hostSubject}`)) })
    : connect(port, host);
  const r = new ByteReader();
  socket.on('data', (d: Buffer) => r.push(d));
  socket.on('close', () => r.end('the SPICE server closed the connection'));
  socket.on('error', () => undefined);
  try {
    const header = Buffer.alloc(16 + SPICE_LINK_MESS_BYTES);
    SPICE_MAGIC.copy(header, 0);
    header.writeUInt32LE(2, 4); // protocol 2.2
    header.writeUInt32LE(2, 8);
    header.writeUInt32LE(SPICE_LINK_MESS_BYTES, 12);
    // SpiceLinkMess: connection_id 0, channel main (1), id 0, no capabilities (legacy ticket auth).
    header.writeUInt8(1, 20);
    header.writeUInt32LE(SPICE_LINK_MESS_BYTES, 30);
    socket.write(header);
    const replyHeader = await r.read(16);
    if (!replyHeader.subarray(0, 4).equals(SPICE_MAGIC)) throw new Error('not a SPICE server');
    const reply = await r.read(replyHeader.readUInt32LE(12));
    const error = reply.readUInt32LE(0);
    if (error !== 0) return error;
    const key = createPublicKey({ key: reply.subarray(4, 4 + SPICE_TICKET_PUBKEY_BYTES), format: 'der', type: 'spki' });
    socket.write(publicEncrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, Buffer.from(`${password}\0`)));
    return (await r.read(4)).readUInt32LE(0);
  } finally {
    socket.destroy();
  }
}

// The certificates Ardesia makes, with Debian's openssl command (no X.509 written by hand): one CA per data
// folder (DATA_DIR/tls/ca.crt, its key 0600) signing the HTTPS certificate of `serve --listen` and the
// SPICE server certificate QEMU loads (x509-dir). Made once, kept: clients pin them.
import { execFile } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ArdesiaError } from '../contract/errors.js';

const run = promisify(execFile);

const CA_DAYS = 3650;
/** Long-lived on purpose: clients pin this certificate's fingerprint; it is replaced only by the administrator. */
const SERVER_DAYS = 3650;
/** The SPICE certificate's subject; the .vv file's host-subject names it, so no address needs to match. */
export const SPICE_SUBJECT = 'O=Ardesia,CN=ardesia-spice';

export interface TlsFolder {
  dir: string;
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  /** QEMU's x509-dir for SPICE: ca-cert.pem, server-cert.pem, server-key.pem. */
  spiceDir: string;
}

export function tlsFolder(dataDir: string): TlsFolder {
  const dir = join(dataDir, 'tls');
  return { dir, caCert: join(dir, 'ca.crt'), caKey: join(dir, 'ca.key'), serverCert: join(dir, 'server.crt'), serverKey: join(dir, 'server.key'), spiceDir: join(dir, 'spice') };
}

export interface CertificateInfo {
  pem: string;
  /** SHA-256 of the DER certificate, AB:CD:… */
  fingerprint: string;
  subject: string;
}

export function certificateInfo(pem: string, what: string): CertificateInfo {
  try {
    const cert = new X509Certificate(pem);
    return { pem, fingerprint: cert.fingerprint256, subject: cert.subject.replace(/\n/g, ', ') };
  } catch (err) {
    throw new ArdesiaError('TLS_CERT_FAILED', `${what} is not a PEM certificate: ${(err as Error).message}`);
  }
}

async function openssl(args: string[]): Promise<void> {
  try {
    await run('openssl', args, { timeout: 60_000 });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    const why = e.code === 'ENOENT' ? 'openssl is not installed' : (e.stderr ?? e.message).trim().split('\n').slice(-3).join(' ');
    throw new ArdesiaError('TLS_CERT_FAILED', `openssl ${args[0]} failed: ${why}`);
  }
}

/** A new EC P-256 key, written 0600 from the start (openssl creates files with the umask). */
async function keyCreate(path: string): Promise<void> {
  writeFileSync(path, '', { mode: 0o600 });
  chmodSync(path, 0o600);
  await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path]);
  chmodSync(path, 0o600);
}

// One issuing at a time in this process: two VMs starting together must not both make the CA.
let issuing: Promise<unknown> = Promise.resolve();
function serialized<T>(job: () => Promise<T>): Promise<T> {
  const next = issuing.then(job, job);
  issuing = next.catch(() => undefined);
  return next;
}

const subjectArg = (rfc: string) => `/${rfc.split(',').join('/')}`;

async function caEnsure(f: TlsFolder): Promise<void> {
  if (existsSync(f.caCert) && existsSync(f.caKey)) return;
  await keyCreate(f.caKey);
  await openssl([
    'req', '-x509', '-new', '-key', f.caKey, '-out', f.caCert, '-days', String(CA_DAYS), '-sha256',
    '-subj', subjectArg(`O=Ardesia,CN=Ardesia CA ${hostname()}`),
    '-addext', 'basicConstraints=critical,CA:TRUE,pathlen:0', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  chmodSync(f.caCert, 0o644);
}

/** Issues `certPath` for `keyPath` (made if missing), signed by the folder's CA. */
async function leafIssue(f: TlsFolder, certPath: string, keyPath: string, subject: string, altNames: string[]): Promise<void> {
  if (!existsSync(keyPath)) await keyCreate(keyPath);
  const work = mkdtempSync(join(f.dir, '.issue-'));
  try {
    const csr = join(work, 'req.csr');
    const ext = join(work, 'ext.cnf');
    const lines = ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment', 'extendedKeyUsage=serverAuth'];
    if (altNames.length) lines.push(`subjectAltName=${altNames.join(',')}`);
    writeFileSync(ext, `${lines.join('\n')}\n`);
    await openssl(['req', '-new', '-key', keyPath, '-out', csr, '-subj', subjectArg(subject)]);
    await openssl([
      'x509', '-req', '-in', csr, '-CA', f.caCert, '-CAkey', f.caKey, '-set_serial', `0x${randomBytes(16).toString('hex')}`,
      '-days', String(SERVER_DAYS), '-sha256', '-extfile', ext, '-out', `${certPath}.new`,
    ]);
    chmodSync(`${certPath}.new`, 0o644);
    copyFileSync(`${certPath}.new`, certPath);
    rmSync(`${certPath}.new`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The names a client may use for this host: its name, localhost, and every address it has now (and `extra`). */
function serverAltNames(extra: string | undefined): string[] {
  const ips = new Set<string>(['127.0.0.1', '::1']);
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) if (!a.address.startsWith('fe80')) ips.add(a.address);
  if (extra && isIP(extra) && extra !== '0.0.0.0' && extra !== '::') ips.add(extra);
  const dns = new Set(['localhost', hostname()]);
  if (extra && !isIP(extra)) dns.add(extra);
  return [...[...dns].map((d) => `DNS:${d}`), ...[...ips].map((ip) => `IP:${ip}`)];
}

function covers(certPem: string, host: string): boolean {
  if (host === '0.0.0.0' || host === '::') return true;
  const cert = new X509Certificate(certPem);
  return (isIP(host) ? cert.checkIP(host) : cert.checkHost(host)) !== undefined;
}

export interface ServerCertificate extends CertificateInfo {
  certPath: string;
  keyPath: string;
  /** The CA clients may trust instead of pinning (Ardesia's own; absent for an administrator's certificate). */
  caPath?: string;
  /** true when this start made (or re-made) the certificate: its fingerprint is new. */
  issued: boolean;
}

/** Ardesia's HTTPS certificate for `listenHost`: made at first start; re-issued (same key) only if it does not name that address. */
export function serverCertificateEnsure(dataDir: string, listenHost: string): Promise<ServerCertificate> {
  return serialized(() => serverCertificateMake(dataDir, listenHost));
}

async function serverCertificateMake(dataDir: string, listenHost: string): Promise<ServerCertificate> {
  const f = tlsFolder(dataDir);
  mkdirSync(f.dir, { recursive: true, mode: 0o700 });
  chmodSync(f.dir, 0o700);
  await caEnsure(f);
  let issued = false;
  if (!existsSync(f.serverCert) || !existsSync(f.serverKey) || !covers(readFileSync(f.serverCert, 'utf8'), listenHost)) {
    await leafIssue(f, f.serverCert, f.serverKey, `O=Ardesia,CN=${hostname()}`, serverAltNames(listenHost));
    issued = true;
  }
  return { ...certificateInfo(readFileSync(f.serverCert, 'utf8'), f.serverCert), certPath: f.serverCert, keyPath: f.serverKey, caPath: f.caCert, issued };
}

/** The administrator's certificate and key (read once at start; a bad pair fails the start, not the first client). */
export function givenCertificate(certPath: string, keyPath: string): ServerCertificate {
  let pem: string;
  try {
    pem = readFileSync(certPath, 'utf8');
    readFileSync(keyPath);
  } catch (err) {
    throw new ArdesiaError('TLS_CERT_FAILED', `cannot read --tls-cert/--tls-key: ${(err as Error).message}`);
  }
  return { ...certificateInfo(pem, certPath), certPath, keyPath, issued: false };
}

/** QEMU's SPICE credentials (x509-dir), signed by the folder's CA; made once. Returns the folder. */
export function spiceCredentialsEnsure(dataDir: string): Promise<string> {
  return serialized(() => spiceCredentialsMake(dataDir));
}

async function spiceCredentialsMake(dataDir: string): Promise<string> {
  const f = tlsFolder(dataDir);
  mkdirSync(f.dir, { recursive: true, mode: 0o700 });
  mkdirSync(f.spiceDir, { recursive: true, mode: 0o700 });
  await caEnsure(f);
  const cert = join(f.spiceDir, 'server-cert.pem');
  const key = join(f.spiceDir, 'server-key.pem');
  if (!existsSync(cert) || !existsSync(key)) await leafIssue(f, cert, key, SPICE_SUBJECT, []);
  copyFileSync(f.caCert, join(f.spiceDir, 'ca-cert.pem'));
  return f.spiceDir;
}

/** The PEM of the folder's CA (the .vv file's ca=, the thin-client OS's trust), or undefined before the first one is made. */
export function ardesiaCaPem(dataDir: string): string | undefined {
  const path = tlsFolder(dataDir).caCert;
  return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
}

// A real OpenLDAP for the tests: Debian's slapd with its own cn=config in a temporary folder, a loopback port,
// LDAPS with a CA the test makes, users and nested groups loaded online over ldapi (overlays do not run in slapadd).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { until } from '../helpers/daemon.js';

export const SUFFIX = 'dc=example,dc=org';
const ROOT_DN = `cn=admin,${SUFFIX}`;

/** A free loopback TCP port (closed again before slapd takes it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** A CA and a server certificate for 127.0.0.1 and localhost, made with the openssl command. */
export function testCaMake(dir: string, cn = 'localhost', ip = '127.0.0.1'): { ca: string; cert: string; key: string } {
  const f = (n: string) => join(dir, n);
  const ssl = (args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  ssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=Ardesia directory test CA']);
  ssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', `/CN=${cn}`]);
  writeFileSync(f('ext.cnf'), `subjectAltName=DNS:${cn},DNS:localhost,IP:${ip}\nextendedKeyUsage=serverAuth\n`);
  ssl(['x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('server.pem'), '-days', '2', '-extfile', f('ext.cnf')]);
  return { ca: f('ca.pem'), cert: f('server.pem'), key: f('server.key') };
}

function configLdif(dir: string, tls: { ca: string; cert: string; key: string }): string {
  return `dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: ${dir}/slapd.pid
olcTLSCACertificateFile: ${tls.ca}
olcTLSCertificateFile: ${tls.cert}
olcTLSCertificateKeyFile: ${tls.key}
olcSecurity: simple_bind=64

dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb
olcModuleLoad: memberof
olcModuleLoad: refint

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file:///etc/ldap/schema/core.ldif

include: file:///etc/ldap/schema/cosine.ldif

include: file:///etc/ldap/schema/nis.ldif

include: file:///etc/ldap/schema/inetorgperson.ldif

dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend

dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config
olcAccess: {0}to * by dn.exact=gidNumber=0+uidNumber=0,cn=peercred,cn=external,cn=auth manage by * break

dn: olcDatabase={1}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcDbDirectory: ${dir}/db
olcSuffix: ${SUFFIX}
olcRootDN: ${ROOT_DN}
olcAccess: {0}to attrs=userPassword by self write by anonymous auth by * none
olcAccess: {1}to * by dn.exact=gidNumber=0+uidNumber=0,cn=peercred,cn=external,cn=auth manage by users read by * none
olcDbIndex: objectClass eq
olcDbIndex: uid,member eq

dn: olcOverlay={0}memberof,olcDatabase={1}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcMemberOf
olcOverlay: {0}memberof
olcMemberOfRefInt: TRUE

dn: olcOverlay={1}refint,olcDatabase={1}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcRefintConfig
olcOverlay: {1}refint
olcRefintAttribute: member
`;
}

export interface Slapd {
  dir: string;
  ldapUrl: string;
  ldapsUrl: string;
  ca: string;
  /** The search account (read-only over everything but passwords) and the file its password is in. */
  bindDn: string;
  bindPasswordFile: string;
  /** Runs LDIF as the local root over ldapi (ldapadd/ldapmodify with -Y EXTERNAL). */
  modify(ldif: string, add?: boolean): void;
  stop(): Promise<void>;
}

/** Starts slapd on two free loopback ports (ldap with StartTLS, ldaps) and an ldapi socket in its folder. */
export async function slapdStart(): Promise<Slapd> {
  const dir = mkdtempSync(join(tmpdir(), 'ard-slapd-'));
  mkdirSync(join(dir, 'slapd.d'));
  mkdirSync(join(dir, 'db'));
  const tls = testCaMake(dir);
  writeFileSync(join(dir, 'config.ldif'), configLdif(dir, tls));
  execFileSync('slapadd', ['-n', '0', '-F', join(dir, 'slapd.d'), '-l', join(dir, 'config.ldif')], { stdio: 'pipe' });
  const [p1, p2] = [await freePort(), await freePort()];
  const ldapi = `ldapi://${encodeURIComponent(join(dir, 'ldapi'))}`;
  const proc: ChildProcess = spawn('slapd', ['-d', '0', '-F', join(dir, 'slapd.d'), '-h', `ldap://127.0.0.1:${p1}/ ldaps://127.0.0.1:${p2}/ ${ldapi}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const modify = (ldif: string, add = true) => {
    execFileSync(add ? 'ldapadd' : 'ldapmodify', ['-Q', '-Y', 'EXTERNAL', '-H', ldapi], { input: ldif, stdio: ['pipe', 'pipe', 'pipe'] });
  };
  await until(`slapd on ${ldapi} (${stderr})`, () => {
    try {
      execFileSync('ldapsearch', ['-Q', '-Y', 'EXTERNAL', '-H', ldapi, '-b', '', '-s', 'base', '1.1'], { stdio: 'pipe' });
      return true;
    } catch {
      if (proc.exitCode !== null) throw new Error(`slapd exited: ${stderr}`);
      return false;
    }
  }, 20_000, 50);
  const bindPasswordFile = join(dir, 'bind.secret');
  writeFileSync(bindPasswordFile, 'reader-secret-1\n', { mode: 0o600 });
  modify(`dn: ${SUFFIX}
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: ou=people,${SUFFIX}
objectClass: organizationalUnit
ou: people

dn: ou=groups,${SUFFIX}
objectClass: organizationalUnit
ou: groups

dn: cn=reader,${SUFFIX}
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: reader
userPassword: reader-secret-1
`);
  return {
    dir,
    ldapUrl: `ldap://127.0.0.1:${p1}`,
    ldapsUrl: `ldaps://127.0.0.1:${p2}`,
    ca: tls.ca,
    bindDn: `cn=reader,${SUFFIX}`,
    bindPasswordFile,
    modify,
    stop: async () => {
      proc.kill('SIGTERM');
      await until('slapd to stop', () => proc.exitCode !== null || proc.signalCode !== null, 10_000, 50).catch(() => proc.kill('SIGKILL'));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** An inetOrgPerson under ou=people. */
export function personLdif(uid: string, cn: string, password: string): string {
  return `dn: uid=${uid},ou=people,${SUFFIX}
objectClass: inetOrgPerson
uid: ${uid}
cn: ${cn}
sn: ${cn.split(' ').pop()}
displayName: ${cn}
userPassword: ${password}
`;
}

/** A groupOfNames under ou=groups whose members are full DNs (users or other groups). */
export function groupLdif(cn: string, members: string[]): string {
  return `dn: cn=${cn},ou=groups,${SUFFIX}
objectClass: groupOfNames
cn: ${cn}
${members.map((m) => `member: ${m}`).join('\n')}
`;
}

export const userDn = (uid: string) => `uid=${uid},ou=people,${SUFFIX}`;
export const groupDn = (cn: string) => `cn=${cn},ou=groups,${SUFFIX}`;

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clientAddress, NO_TRUSTED_PROXIES, originProblem, type OriginInput, trustedProxiesParse } from './request-guard.js';

const proxies = trustedProxiesParse(['10.0.0.1', '192.168.5.0/24,::1']);

const addressCases: Array<[string, string | undefined, string | undefined, typeof proxies, string]> = [
  ['the unix socket', undefined, undefined, NO_TRUSTED_PROXIES, 'local'],
  ['no proxy configured: X-Forwarded-For is ignored', '127.0.0.1', '1.2.3.4', NO_TRUSTED_PROXIES, '127.0.0.1'],
  ['an untrusted peer cannot name another client', '10.9.9.9', '1.2.3.4', proxies, '10.9.9.9'],
  ['a trusted proxy: the last hop', '10.0.0.1', '6.6.6.6, 1.2.3.4', proxies, '1.2.3.4'],
  ['through two trusted proxies', '10.0.0.1', '1.2.3.4, 192.168.5.7', proxies, '1.2.3.4'],
  ['a client-written hop left of the proxy is not believed', '10.0.0.1', '7.7.7.7, 1.2.3.4', proxies, '1.2.3.4'],
  ['IPv4-mapped peer', '::ffff:10.0.0.1', '1.2.3.4', proxies, '1.2.3.4'],
  ['a garbled hop stops at the proxy', '10.0.0.1', 'not-an-ip', proxies, '10.0.0.1'],
  ['IPv6 trusted proxy', '::1', '2001:db8::5', proxies, '2001:db8::5'],
];
for (const [name, peer, xff, trusted, want] of addressCases) test(`clientAddress: ${name}`, () => assert.equal(clientAddress(peer, xff, trusted), want));

test('trustedProxiesParse refuses what is not an address or CIDR', () => {
  assert.throws(() => trustedProxiesParse(['proxy.example']), /not an IP address/);
  assert.throws(() => trustedProxiesParse(['10.0.0.0/33']), /not an IP address/);
});

const COOKIE = 'ardesia_session=abc';
const base = (over: Partial<OriginInput> & { headers?: OriginInput['headers'] }): OriginInput => ({ method: 'POST', upgrade: false, viaTrustedProxy: false, ...over, headers: { host: 'portal:8080', ...over.headers } });
const originCases: Array<[string, OriginInput, boolean]> = [
  ['GET is never refused', base({ method: 'GET', headers: { cookie: COOKIE, origin: 'http://evil' } }), false],
  ['same-origin POST with the cookie', base({ headers: { cookie: COOKIE, origin: 'http://portal:8080' } }), false],
  ['cross-site POST with the cookie', base({ headers: { cookie: COOKIE, origin: 'http://evil.example' } }), true],
  ['POST with the cookie and no Origin', base({ headers: { cookie: COOKIE } }), true],
  ['Origin null (sandboxed frame, file:)', base({ headers: { cookie: COOKIE, origin: 'null' } }), true],
  ['bearer token, no Origin (CLI, scripts)', base({ headers: { authorization: 'Bearer x', cookie: COOKIE } }), false],
  ['login from another site (no cookie yet)', base({ headers: { origin: 'http://evil.example' } }), true],
  ['WebSocket with the cookie from another site', base({ method: 'GET', upgrade: true, headers: { cookie: COOKIE, origin: 'http://evil.example' } }), true],
  ['WebSocket with the cookie and no Origin', base({ method: 'GET', upgrade: true, headers: { cookie: COOKIE } }), true],
  ['WebSocket with a token and no Origin', base({ method: 'GET', upgrade: true, headers: { authorization: 'Bearer x' } }), false],
  ['behind a trusted proxy: X-Forwarded-Host', base({ viaTrustedProxy: true, headers: { host: 'backend:8080', cookie: COOKIE, origin: 'https://vdi.example', 'x-forwarded-host': 'vdi.example' } }), false],
  ['X-Forwarded-Host from an untrusted peer is ignored', base({ headers: { host: 'backend:8080', cookie: COOKIE, origin: 'https://evil.example', 'x-forwarded-host': 'evil.example' } }), true],
];
for (const [name, input, refused] of originCases) test(`originProblem: ${name}`, () => assert.equal(originProblem(input) !== undefined, refused));

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { osTrustNotice, type PortalTls } from './os-trust.js';

const A = 'AA:'.repeat(31) + 'AA';
const B = 'BB:'.repeat(31) + 'BB';

test('osTrustNotice: the OS against what the daemon serves', () => {
  const table: Array<[{ sha256: string } | null | undefined, PortalTls, 'ok' | 'warn', RegExp]> = [
    [{ sha256: A }, { scheme: 'https', caSha256: A }, 'ok', /verifies the portal with the daemon's CA/],
    [{ sha256: A }, { scheme: 'https', caSha256: B }, 'warn', /trusts CA AA.* daemon's CA is now BB.*rebuild it \(ardesia thinclient build --arch amd64\)/],
    [null, { scheme: 'https', caSha256: A }, 'warn', /carries no CA.*rebuild/],
    [undefined, { scheme: 'https', caSha256: A }, 'warn', /carries no CA/],
    [{ sha256: A }, { scheme: 'https', caSha256: undefined }, 'ok', /must be the CA that signed --tls-cert/],
    [{ sha256: A }, { scheme: 'http' }, 'warn', /serves plain HTTP.*portal-not-https/],
    [null, { scheme: 'http' }, 'warn', /cross the network in clear/],
  ];
  for (const [ca, tls, level, message] of table) {
    const notice = osTrustNotice('amd64', ca, tls);
    assert.equal(notice.level, level, JSON.stringify([ca, tls]));
    assert.match(notice.message, message);
  }
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isLoopbackHost, listenTlsPlan } from './listen-plan.js';
import { fingerprintEquals, fingerprintParse } from './fingerprint.js';

describe('isLoopbackHost', () => {
  const table: Array<[string, boolean]> = [
    ['127.0.0.1', true], ['127.0.0.2', true], ['127.255.1.1', true], ['localhost', true], ['::1', true], ['[::1]', true],
    ['0:0:0:0:0:0:0:1', true], ['::ffff:127.0.0.1', true],
    ['0.0.0.0', false], ['::', false], ['10.250.0.1', false], ['128.0.0.1', false], ['::ffff:10.0.0.1', false], ['fe80::1', false],
    ['ardesia.example', false], ['::11', false],
  ];
  for (const [host, loop] of table) it(`${host} → ${loop}`, () => assert.equal(isLoopbackHost(host), loop));
});

describe('listenTlsPlan', () => {
  it('serves HTTPS with its own certificate off loopback', () => assert.deepEqual(listenTlsPlan('10.0.0.1', {}), { scheme: 'https', cert: 'ardesia' }));
  it('serves HTTPS on every address (0.0.0.0)', () => assert.deepEqual(listenTlsPlan('0.0.0.0', {}), { scheme: 'https', cert: 'ardesia' }));
  it('keeps plain HTTP on loopback', () => assert.deepEqual(listenTlsPlan('127.0.0.1', {}), { scheme: 'http', insecure: false }));
  it('serves HTTPS on loopback when asked', () => assert.deepEqual(listenTlsPlan('127.0.0.1', { tls: true }), { scheme: 'https', cert: 'ardesia' }));
  it('plain HTTP off loopback only with --insecure-http', () => assert.deepEqual(listenTlsPlan('10.0.0.1', { insecureHttp: true }), { scheme: 'http', insecure: true }));
  it("uses the administrator's certificate", () =>
    assert.deepEqual(listenTlsPlan('10.0.0.1', { tlsCert: 'c.pem', tlsKey: 'k.pem' }), { scheme: 'https', cert: 'given', certPath: 'c.pem', keyPath: 'k.pem' }));
  it('refuses a certificate without its key', () => assert.throws(() => listenTlsPlan('10.0.0.1', { tlsCert: 'c.pem' }), /TLS_CONFIG_INVALID|go together/));
  it('refuses --insecure-http with --tls', () => assert.throws(() => listenTlsPlan('10.0.0.1', { tls: true, insecureHttp: true }), /choose one/));
  it('refuses --insecure-http with a certificate', () => assert.throws(() => listenTlsPlan('10.0.0.1', { tlsCert: 'c', tlsKey: 'k', insecureHttp: true }), /choose one/));
});

describe('fingerprintParse', () => {
  const hex = 'ab'.repeat(32);
  const colons = 'AB:'.repeat(31) + 'AB';
  it('accepts plain hex', () => assert.equal(fingerprintParse(hex), colons));
  it('accepts colons and a sha256 prefix', () => assert.equal(fingerprintParse(`sha256:${colons.toLowerCase()}`), colons));
  it('refuses a short value', () => assert.throws(() => fingerprintParse('AB:CD'), /not a SHA-256 fingerprint/));
  it('refuses non-hex', () => assert.throws(() => fingerprintParse('zz'.repeat(32)), /not a SHA-256 fingerprint/));
  it('compares whatever the spelling', () => assert.equal(fingerprintEquals(hex, colons), true));
  it('tells two fingerprints apart', () => assert.equal(fingerprintEquals(hex, 'cd'.repeat(32)), false));
});

// The .vv file remote-viewer reads: plain on loopback, TLS with the CA and host subject off loopback.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { virtViewerFile } from './spice.js';

const CA = '-----BEGIN CERTIFICATE-----\nMIIBdzCCAR2gAwIBAgIU\nAbCd==\n-----END CERTIFICATE-----\n';

describe('virtViewerFile', () => {
  it('on loopback: the plain port, no TLS keys', () => {
    const vv = virtViewerFile({ host: '127.0.0.1', port: 5930, password: 'pw', title: 'd - Ardesia' });
    assert.match(vv, /^port=5930$/m);
    assert.doesNotMatch(vv, /^(tls-port|ca|host-subject)=/m);
  });

  it('off loopback: tls-port, the CA on one line with \\n escapes, the host subject, and no plain port', () => {
    const vv = virtViewerFile({ host: '10.0.0.1', tlsPort: 5931, ca: CA, hostSubject: 'O=Ardesia,CN=ardesia-spice', password: 'pw', title: 't' });
    assert.deepEqual(
      vv.split('\n').filter((l) => /^(port|tls-port|ca|host-subject)=/.test(l)),
      ['tls-port=5931', 'ca=-----BEGIN CERTIFICATE-----\\nMIIBdzCCAR2gAwIBAgIU\\nAbCd==\\n-----END CERTIFICATE-----', 'host-subject=O=Ardesia,CN=ardesia-spice'],
    );
  });

  it('a line break in any value cannot add a key', () => {
    const vv = virtViewerFile({ host: '10.0.0.1\nport=1', port: 5930, password: 'pw', title: 'x\r\nhost=evil' });
    assert.equal(vv.split('\n').filter((l) => l.startsWith('host=')).length, 1);
    assert.equal(vv.split('\n').filter((l) => l.startsWith('port=')).length, 1);
  });
});

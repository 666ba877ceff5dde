import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bootScript, refusalMessage, waitingScript, RETRY_SECONDS } from './ipxe-script.js';

const BASE = { server: 'http://10.250.5.1:8080', mac: '52:54:00:05:00:01', kernel: 'vmlinuz', initrd: 'initrd.img' };

test('boot script: kernel and initrd from /boot/files, manifest cmdline, client params, server and ${mac}', () => {
  const script = bootScript({ ...BASE, kernelCmdline: 'console=ttyS0 quiet', bootParams: 'video=1024x768' });
  assert.equal(script, [
    '#!ipxe',
    'echo Ardesia: booting thin client ${mac} from http://10.250.5.1:8080',
    'kernel http://10.250.5.1:8080/boot/files/vmlinuz initrd=initrd.img console=ttyS0 quiet video=1024x768 ardesia.server=http://10.250.5.1:8080 ardesia.mac=${mac}',
    'initrd http://10.250.5.1:8080/boot/files/initrd.img',
    'boot',
    '',
  ].join('\n'));
});

test('boot script: empty cmdline and no params leave no double spaces', () => {
  const kernelLine = bootScript({ ...BASE, kernelCmdline: '  ', bootParams: null }).split('\n')[2]!;
  assert.equal(kernelLine, 'kernel http://10.250.5.1:8080/boot/files/vmlinuz initrd=initrd.img ardesia.server=http://10.250.5.1:8080 ardesia.mac=${mac}');
});

test('a disabled client is told so with its MAC and asks again later', () => {
  const message = refusalMessage('disabled', BASE.mac);
  assert.equal(message, 'This thin client is not enabled; ask an administrator (MAC 52:54:00:05:00:01)');
  const script = waitingScript(BASE.server, BASE.mac, message);
  assert.match(script, /^#!ipxe\n:retry\necho This thin client is not enabled/);
  assert.match(script, new RegExp(`\nsleep ${RETRY_SECONDS}\nchain --replace http://10\\.250\\.5\\.1:8080/boot/ipxe\\?mac=52:54:00:05:00:01 \\|\\| goto retry\n$`));
  assert.doesNotMatch(script, /\nkernel /);
});

test('a client awaiting approval gets its own message', () => {
  assert.match(refusalMessage('awaiting-approval', BASE.mac), /waiting for approval.*MAC 52:54:00:05:00:01/);
});

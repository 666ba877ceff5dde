import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { VmRestoreFrom } from '../../contract/agent.js';
import { ArdesiaError } from '../../contract/errors.js';
import { TEMPLATE_FORMAT } from '../../hypervisor/saved-state/template.js';
import { templateOfRestore } from './agent-templates.js';

const sha = (c: string) => c.repeat(64);
const DIR = '/srv/ardesia/templates/0123456789abcdef/1764000000000';
const manifest = {
  format: TEMPLATE_FORMAT, key: '0123456789abcdef', image: 'deb', version: 3, savedAt: '2026-12-01T00:00:00.000Z', qemuVersion: '7.2.15', machine: 'pc-i440fx-7.2',
  memoryMiB: 2048, vcpus: 2, accel: 'tcg', devicesSha256: sha('d'), overlay: { path: `${DIR}/system.qcow2`, bytes: 1, sha256: sha('0') },
  state: { bytes: 2, sha256: sha('5') }, ram: { bytes: 3, sha256: sha('a') }, bootMs: 1, saveMs: 1, kernelVmgenid: 'yes',
};
const from = (patch: Partial<VmRestoreFrom>): VmRestoreFrom => ({ stream: `${DIR}/state.bin`, ramFile: `${DIR}/ram.bin`, manifest, ...patch });

const ROWS: Array<[string, VmRestoreFrom, RegExp | null]> = [
  ['a manifest and its files in one build folder: taken', from({}), null],
  ['not a manifest', from({ manifest: { key: 'x' } }), /is not a template manifest/],
  ['an older format', from({ manifest: { ...manifest, format: 1 } }), /is not a template manifest/],
  ['the state in another folder', from({ stream: '/srv/elsewhere/state.bin' }), /are not in its build folder/],
  ['the RAM in another folder', from({ ramFile: `${DIR}/../ram.bin` }), /are not in its build folder/],
];
for (const [name, input, refused] of ROWS) {
  test(`a restore template sent to an agent: ${name}`, () => {
    if (!refused) return assert.equal(templateOfRestore(input).key, manifest.key);
    assert.throws(() => templateOfRestore(input), (err: ArdesiaError) => err.code === 'VM_STATE_INVALID' && refused.test(err.message));
  });
}

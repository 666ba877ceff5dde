// YAML and JSON spec files: the same specs as vm.conf, errors with field path and line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseVmSpecDocument } from './spec-file.js';
import { loadVmConfWith } from './load.js';
import { assertVmConfError, parseWith } from './testing.js';
import { ARDESIA_CDROM_GUEST, ARDESIA_KERNEL_GUEST } from './fixtures.js';

const YAML_EQUIVALENT = `vms:
  - name: tiny
    memoryMiB: 256
    vcpus: 1
    arch: amd64
    accel: tcg
    boot:
      kernel: kernels/vmlinuz
      initrd: kernels/initrd.img
      cmdline: console=ttyS0 quiet
    disks:
      - { path: /var/lib/ardesia/images/tiny.qcow2, format: qcow2 }
    nics:
      - { model: virtio }
    enabled: false
  - name: installer
    memoryMiB: 2048
    vcpus: 2
    boot: { firmware: uefi, device: cdrom }
    cdrom: /srv/iso/debian-12-netinst.iso
    disks:
      - { path: /var/lib/ardesia/installer.qcow2, format: qcow2, bus: virtio }
    nics:
      - { mode: bridge, bridge: br0, ifname: tap7, mac: "52:54:00:12:34:56" }
    owner: { user: alice, group: staff }
    enabled: true
switches:
  - { name: lan, interface: br0 }
`;

const parseYaml = (text: string, path = '/etc/vms.yaml') => parseVmSpecDocument(text, { path, format: 'yaml' });

test('YAML and JSON equivalents produce the same specs as the vm.conf', () => {
  const conf = parseWith(ARDESIA_KERNEL_GUEST + ARDESIA_CDROM_GUEST);
  const yaml = parseYaml(YAML_EQUIVALENT);
  assert.deepEqual(yaml.vms, conf.vms);
  assert.deepEqual(yaml.switches.map(({ source: _s, ...rest }) => rest), conf.switches.map(({ source: _s, ...rest }) => rest));
  const json = parseVmSpecDocument(JSON.stringify({ vms: yaml.vms, switches: [{ name: 'lan', interface: 'br0' }] }, null, 2), { path: '/etc/vms.json', format: 'json' });
  assert.deepEqual(json.vms, conf.vms);
  assert.deepEqual(yaml.sourceOf, { tiny: '/etc/vms.yaml:2', installer: '/etc/vms.yaml:16' });
});

test('YAML/JSON errors name the field path and line', () => {
  const cases: [string, 'yaml' | 'json', number, number, string][] = [
    ['vms:\n  - name: a\n    memoryMiB: 8\n', 'yaml', 3, 16, 'vms[0].memoryMiB: Number must be greater than or equal to 16'],
    ['vms:\n  - name: a\n    disks:\n      - { path: /x, format: vmdk }\n', 'yaml', 4, 29, 'vms[0].disks[0].format: Invalid enum value'],
    ['vms:\n  - name: a\n    memroy: 64\n', 'yaml', 3, 5, 'vms[0].memroy: unknown field'],
    ['vms:\n  - name: a\n    boot: { kernal: /k }\n', 'yaml', 3, 13, 'vms[0].boot.kernal: unknown field'],
    ['vms:\n  - name: a\n  - name: a\n', 'yaml', 3, 5, 'vm "a" is already defined at /etc/vms.yaml:2'],
    ['vm:\n  - name: a\n', 'yaml', 1, 1, 'vms: Required (expected { vms: [...], switches: [...] })'],
    ['vms: [\n', 'yaml', 2, 1, 'not valid YAML'],
    ['{ "vms": [ { "name": "a", } ] }', 'json', 1, 27, 'not valid JSON'],
    ['{"vms":[{"name":"a","nics":[{"mode":"wifi"}]}]}', 'json', 1, 37, 'vms[0].nics[0].mode'],
    ['switches:\n  - { name: s, interface: "my bridge" }\nvms: []\n', 'yaml', 2, 27, 'switches[0].interface'],
  ];
  for (const [text, format, line, col, says] of cases) {
    const path = format === 'json' ? '/etc/vms.json' : '/etc/vms.yaml';
    assertVmConfError(() => parseVmSpecDocument(text, { path, format }), { code: 'VMCONF_PARSE', file: path, line, col, says });
  }
});

test('loadVmConfWith picks the reader by extension and reports unreadable files', () => {
  const files: Record<string, string> = {
    '/c/vm.conf': 'vm "a" {\n\tmemory 64M\n}\n',
    '/c/vms.yml': 'vms:\n  - { name: a, memoryMiB: 64, enabled: true, disks: [] }\n',
    '/c/vms.JSON': '{"vms":[{"name":"a","memoryMiB":64,"enabled":true}]}',
  };
  const fs = { readFile: (p: string) => files[p] ?? (() => { throw new Error(`ENOENT ${p}`); })() };
  const specs = Object.keys(files).map((p) => loadVmConfWith(p, fs).vms);
  assert.deepEqual(specs[1], specs[0]);
  assert.deepEqual(specs[2], specs[0]);
  assert.throws(() => loadVmConfWith('/c/none.conf', fs), (e: Error & { code?: string }) => e.code === 'VMCONF_PARSE' && /cannot read the file/.test(e.message));
});

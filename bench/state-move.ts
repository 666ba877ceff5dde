// A saved VM state moved to the host a start was placed on (a state saved on the controller's host, resumed on an
// agent's), against stock tools doing the same job, alternated in one run. Ardesia: the controller's code
// (image-copy-peer.ts ?state=, cluster/remote-states.ts's send: header, then the stream) in a process of its own, over a
// pinned TLS WebSocket, into the agent's code in this process (wsReadable → savedStateReceive: the header parsed, the
// stream written while hashed, its length and sha256 checked, fsync'd, the manifest committed). Baseline: curl from
// `openssl s_server -WWW`, then sha256sum (the same bytes, the same TLS, the same check).
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { SAVED_STATE_FORMAT, type SavedStateManifest } from '../src/hypervisor/saved-state/manifest.js';
import { wsReadable } from '../src/lib/ws-pipe.js';
import { savedStateFiles, savedStateReceive } from '../src/vms/vm-saved-state.js';
import { peerStream, STREAM_MIB, tlsCopyRun } from './image-copy.js';

export function run(): ReturnType<typeof tlsCopyRun> {
  let folder = '';
  return tlsCopyRun({
    name: 'state-move',
    label: "ardesia (controller → agent, a saved state: header, stream, length + sha256 checked, fsync)",
    note: 'a saved state of random bytes, the RAM of a guest that compresses nothing',
    async payload(served) {
      folder = join(served, 'v1');
      mkdirSync(folder);
      const hash = createHash('sha256');
      const fd = openSync(join(folder, 'state.bin'), 'w');
      for (let i = 0; i < STREAM_MIB; i++) {
        const chunk = randomBytes(1 << 20);
        hash.update(chunk);
        writeSync(fd, chunk);
      }
      closeSync(fd);
      const sha256 = hash.digest('hex');
      const manifest: SavedStateManifest = {
        format: SAVED_STATE_FORMAT, vm: 'v1', savedAt: new Date().toISOString(), qemuVersion: 'bench', machine: 'q35', memoryMiB: STREAM_MIB, vcpus: 1, accel: 'tcg',
        launchSha256: '0'.repeat(64), disks: [], state: { bytes: STREAM_MIB * 2 ** 20, sha256 },
      };
      writeFileSync(join(folder, 'manifest.json'), JSON.stringify(manifest));
      return { file: join(folder, 'state.bin'), sha256 };
    },
    async copy(host, url, fingerprint) {
      const ws = await peerStream(url, fingerprint, `state=${encodeURIComponent(folder)}`);
      await savedStateReceive(savedStateFiles(host, 'v1'), wsReadable(ws, 'the state'), 'v1');
    },
  });
}

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import type { VmSpec } from '../contract/vm.js';
import { NatGuard } from './nat-guard-host.js';

const spec = (nics: VmSpec['nics']): VmSpec => ({ name: 'v', nics }) as unknown as VmSpec;
const account = { name: 'ardesia-qemu', uid: 995, gid: 995 };
const listed = spec([{ mode: 'user', model: 'virtio', restrict: true, allow: [{ host: '10.1.2.3', port: 445 }] }]);

describe('NatGuard.requireFor without its table (never installed: nft missing, or a daemon not root)', () => {
  for (const allowUnguarded of [false, true]) {
    const guard = new NatGuard('/var/lib/ardesia', { allowUnguarded, vmUids: { base: 2_000_000_000, size: 65_536 } }, pino({ level: 'silent' }));
    it(`refuses an allow-list VM${allowUnguarded ? ' even with --allow-unguarded-nat' : ''}: nothing else holds it to its list`, () => {
      for (const who of [account, undefined]) {
        assert.throws(() => guard.requireFor(listed, who), (err: Error & { code?: string; hint?: string }) => {
          assert.equal(err.code, 'NAT_GUARD_UNAVAILABLE');
          assert.match(err.message, /allow-list is enforced by the NAT guard/);
          assert.match(err.hint ?? '', /--allow-unguarded-nat does not start such a VM/);
          return true;
        });
      }
    });
    it(`${allowUnguarded ? 'lets' : 'refuses'} an unrestricted NAT VM, and lets NAT restricted to nothing through`, () => {
      const open = () => guard.requireFor(spec([{ mode: 'user', model: 'virtio' }]), account);
      if (allowUnguarded) open();
      else assert.throws(open, { code: 'NAT_GUARD_UNAVAILABLE' });
      guard.requireFor(spec([{ mode: 'user', model: 'virtio', restrict: true, allow: [] }]), account);
    });
  }
});

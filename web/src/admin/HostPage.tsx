// The host: accelerator (with the TCG warning), CPU, QEMU.
import { hostShow } from '../lib/api';
import { useLive } from '../lib/events';
import { LoadError } from '../lib/ui';

export function HostPage() {
  const host = useLive(hostShow, []);
  const h = host.data;
  return (
    <section aria-label="Host details">
      <LoadError error={host.error} />
      {h && (
        <>
          {h.accel === 'tcg' && (
            // Said once: the headline, then the verdict (why, what to do, the isolation warning) folded.
            <div className="warning" role="note">
              <strong>Guests run under TCG (software emulation), not KVM: many times slower, and no isolation boundary.</strong>
              <details>
                <summary>Why, and what to do</summary>
                <p>{h.verdict}</p>
              </details>
            </div>
          )}
          <dl className="facts">
            <dt>Accelerator</dt>
            <dd>
              <span className={`badge badge-${h.accel}`}>{h.accel.toUpperCase()}</span>
            </dd>
            <dt>CPU</dt>
            <dd>
              {h.cpu.model} ({h.cpu.vendor}){h.cpu.inVm ? ', itself a virtual machine' : ''}
            </dd>
            <dt>Virtualization</dt>
            <dd>{h.cpu.vmx ? 'VT-x' : h.cpu.svm ? 'AMD-V' : 'none'}{h.cpu.nestedPaging ? ` with ${h.cpu.nestedPaging.toUpperCase()}` : ''}</dd>
            <dt>/dev/kvm</dt>
            <dd>{h.devKvm.exists ? (h.devKvm.accessible ? 'present and usable' : `present, not usable: ${h.devKvm.error ?? ''}`) : 'absent'}</dd>
            <dt>KVM probe</dt>
            <dd>{h.probe.ran ? `${h.probe.ok ? 'passed' : 'failed'}: ${h.probe.detail}` : 'not run'}</dd>
            <dt>QEMU</dt>
            <dd>{h.qemu.version ? `${h.qemu.version} (${h.qemu.binary})` : `missing (${h.qemu.binary})`}</dd>
          </dl>
          {h.accel !== 'tcg' && <p className="muted">{h.verdict}</p>}
        </>
      )}
    </section>
  );
}

// The hosts of the cluster (a single install is a one-node cluster): state, capacity and what runs there, live;
// labels, drain, undrain and remove. This host's KVM check is the Host page.
import { clusterHostDrain, clusterHostKsmSet, clusterHostLabelsSet, clusterHostList, clusterHostRemove, clusterHostUndrain } from '../lib/api';
import { useLive } from '../lib/events';
import { timeAgo } from '../lib/format';
import type { HostView, KsmReport } from '../../../src/contract/hosts';
import { ActionButton, DataTable, LoadError } from '../lib/ui';

const memoryLimit = (h: HostView) => Math.floor(h.capacity.memoryMiB * h.capacity.memoryOvercommit);
/** KSM as the table shows it: mode and memory saved (only the controller's own host is read). */
function ksmCell(k: KsmReport | null): string {
  if (k === null) return 'not reported';
  if (!k.available) return 'not in this kernel';
  return `${k.mode ?? 'unknown'}, ${(k.savedBytes / 1024 / 1024).toFixed(1)} MiB saved`;
}

const vcpuLimit = (h: HostView) => Math.floor(h.capacity.vcpus * h.capacity.cpuOvercommit);

export function HostsPage() {
  // Desktops starting, ending and moving change the counts: those events reload the list as well.
  const hosts = useLive(clusterHostList, ['host', 'desktop', 'pool']);
  return (
    <>
      <LoadError error={hosts.error} />
      <DataTable<HostView>
        caption="Hosts (a draining host takes no new desktops, spares or VMs; in maintenance nothing runs there)"
        rows={hosts.data}
        rowKey={(h) => h.name}
        empty="No host is registered."
        columns={[
          { label: 'Host', render: (h) => (h.controller ? `${h.name} (controller)` : h.name) },
          { label: 'State', render: (h) => <span className={`badge badge-host-${h.state}`} title={h.stateReason ?? undefined}>{h.state}</span> },
          { label: 'Memory', render: (h) => `${h.used.memoryMiB} of ${memoryLimit(h)} MiB (${h.capacity.memoryMiB} MiB × ${h.capacity.memoryOvercommit})` },
          { label: 'vCPUs', render: (h) => `${h.used.vcpus} of ${vcpuLimit(h)} (${h.capacity.vcpus} CPUs × ${h.capacity.cpuOvercommit})` },
          { label: 'In session', render: (h) => String(h.used.desktopsInSession) },
          { label: 'Spares', render: (h) => String(h.used.spares) },
          { label: 'VMs', render: (h) => String(h.used.runningVms) },
          { label: 'KSM', render: (h) => ksmCell(h.ksm) },
          { label: 'Storage', render: (h) => (h.storage === 'local' ? 'its own (image copies)' : 'shared') },
          { label: 'Agent', render: (h) => (h.controller ? 'embedded' : h.agent === null ? 'no hello yet' : h.agent.linked ? (h.agent.ready ? 'linked' : 'linked, not ready') : 'not linked') },
          {
            label: 'QEMU',
            render: (h) => (
              <>
                {h.qemu ? `${h.qemu.version ?? 'missing'}, ${h.qemu.accel}` : '—'}
                {h.qemuMismatch && <span className="badge badge-qemu-differs" title={h.qemuMismatch}>differs from the controller's</span>}
              </>
            ),
          },
          { label: 'Labels', render: (h) => `${h.labels.join(', ') || '—'}${h.labelsFrom === 'serve' ? ' (serve --host-label)' : ''}` },
          { label: 'Heartbeat', render: (h) => timeAgo(h.heartbeatAt) },
          {
            label: 'Actions',
            render: (h) => (
              <span className="host-actions">
                {h.state === 'up' ? (
                  <ActionButton
                    label={`Drain ${h.name}`}
                    confirm={`Drain ${h.name}? Its spares stop now; sessions there end at their logoff; no new desktops or VMs start there.`}
                    action={async () => {
                      await clusterHostDrain(h.name);
                      hosts.reload();
                    }}
                  />
                ) : (
                  <ActionButton
                    label={`Undrain ${h.name}`}
                    disabledReason={(h.state === 'down' || h.state === 'suspect') && `${h.name} is ${h.state}: ${h.stateReason ?? 'it comes back up when its agent reports again'}`}
                    action={async () => {
                      await clusterHostUndrain(h.name);
                      hosts.reload();
                    }}
                  />
                )}
                <ActionButton
                  label={`Labels of ${h.name}`}
                  disabledReason={h.labelsFrom === 'serve' && `${h.name}'s labels are set by its serve --host-label options`}
                  action={async () => {
                    const typed = window.prompt(`Labels of ${h.name}, which pools may require or avoid (like ssd rack=a; spaces between them; empty for none)`, h.labels.join(' '));
                    if (typed === null) return;
                    await clusterHostLabelsSet(h.name, typed.split(/[\s,]+/).filter((l) => l !== ''));
                    hosts.reload();
                  }}
                />
                {h.ksm?.available === true && (
                  <ActionButton
                    label={h.ksm.enabled ? `Turn KSM off on ${h.name}` : `Turn KSM on on ${h.name}`}
                    confirm={h.ksm.enabled ? `Stop KSM scanning on ${h.name}? Pages merged so far stay merged until written.` : undefined}
                    action={async () => {
                      await clusterHostKsmSet(h.name, h.ksm?.enabled ? 'off' : 'on');
                      hosts.reload();
                    }}
                  />
                )}
                <ActionButton
                  kind="danger"
                  label={`Remove ${h.name}`}
                  disabledReason={h.controller ? "the controller's own host cannot be removed" : h.used.runningVms > 0 && `${h.used.runningVms} VM(s) still run there: drain it first`}
                  confirm={`Remove host ${h.name} from the cluster?`}
                  action={async () => {
                    await clusterHostRemove(h.name);
                    hosts.reload();
                  }}
                />
              </span>
            ),
          },
        ]}
      />
    </>
  );
}

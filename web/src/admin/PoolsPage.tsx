// Pools: counts by state and by image version (who runs which version), spares, where they place, create/edit, delete.
import { useState } from 'react';
import { imageList, poolDelete, poolList } from '../lib/api';
import { useLive } from '../lib/events';
import type { DesktopState, PoolView } from '../lib/types';
import { isInSession } from '../../../src/contract/desktop-states';
import { ActionButton, DataTable, LoadError } from '../lib/ui';
import { PoolForm } from './PoolForm';

const countsText = (counts: Record<string, number>): string =>
  Object.entries(counts)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k}: ${n}`)
    .join(', ') || '—';

/** Where the pool's desktops may run, or why it cannot place one now (which resource is short on which host). */
function PoolPlacement({ pool }: { pool: PoolView }) {
  if (pool.cannotPlace) {
    return (
      <span className="warning-inline" role="status" data-testid={`pool-placement-${pool.name}`}>
        Cannot place ({pool.cannotPlace.code}): {pool.cannotPlace.message}
      </span>
    );
  }
  const { require, avoid } = pool.hostLabels;
  const labels = [require.length ? `with ${require.join(', ')}` : '', avoid.length ? `without ${avoid.join(', ')}` : ''].filter(Boolean).join('; ');
  return <span data-testid={`pool-placement-${pool.name}`}>{labels || 'any host up'}</span>;
}

/** The warm spares now: the pool's setting, or what its schedule keeps, with why the schedule cannot be met. */
function PoolSpares({ pool }: { pool: PoolView }) {
  const s = pool.schedule;
  if (!s) return <span>{`${pool.warmSpares} warm, ${pool.coldSpares} cold`}</span>;
  const boots = s.next && s.next.bootsFrom < s.next.at ? `, booting from ${new Date(s.next.bootsFrom).toLocaleTimeString()}` : '';
  return (
    <div data-testid={`pool-schedule-${pool.name}`}>
      <div>{`${s.warmTarget} warm by schedule${s.inEffect ? ` (${s.inEffect})` : ''}, ${pool.coldSpares} cold`}</div>
      {s.next && <div>{`next: ${s.next.rule} at ${new Date(s.next.at).toLocaleString()}${boots}`}</div>}
      {s.problems.map((p) => (
        <div key={p} className="warning-inline" role="status">
          Schedule cannot be met: {p}
        </div>
      ))}
    </div>
  );
}

/** How desktops start: boot, or restore from the template (and why they boot while it is not ready). */
function PoolStart({ pool }: { pool: PoolView }) {
  const t = pool.template;
  if (pool.startMode === 'boot' || !t) return <span data-testid={`pool-start-${pool.name}`}>boot</span>;
  if (t.state === 'ready') {
    const last = t.lastRestoreMs !== null ? `, last clone in ${t.lastRestoreMs} ms` : '';
    const unknown = t.kernelVmgenid === 'unknown' ? ' — kernel CONFIG_VMGENID unknown: clones may share random numbers' : '';
    return <span data-testid={`pool-start-${pool.name}`}>{`restore (template ready${last})${unknown}`}</span>;
  }
  return (
    <span className={t.state === 'failed' ? 'warning-inline' : undefined} role="status" data-testid={`pool-start-${pool.name}`}>
      {`restore: template ${t.state}, desktops boot meanwhile — ${t.reason ?? ''}`}
    </span>
  );
}

export function PoolsPage() {
  const pools = useLive(poolList, ['pool', 'desktop']);
  const images = useLive(imageList, ['image']);
  const [editing, setEditing] = useState<PoolView | 'new'>();
  return (
    <>
      <LoadError error={pools.error} />
      <DataTable<PoolView>
        caption="Pools, their spares and the desktops by state and by image version"
        rows={pools.data}
        rowKey={(p) => p.name}
        empty="No pool yet: create one."
        columns={[
          { label: 'Pool', render: (p) => p.name },
          { label: 'Image', render: (p) => `${p.image} @ ${p.version === 'latest' ? `latest (${p.currentVersion ?? 'none'})` : p.version}` },
          { label: 'Desktops', render: (p) => `${p.counts.total} (min ${p.minDesktops}, max ${p.maxDesktops})` },
          { label: 'Spares', render: (p) => <PoolSpares pool={p} /> },
          { label: 'By state', render: (p) => <span data-testid={`pool-states-${p.name}`}>{countsText(p.counts.byState)}</span> },
          { label: 'By version', render: (p) => <span data-testid={`pool-versions-${p.name}`}>{countsText(p.counts.byVersion)}</span> },
          { label: 'Hosts', render: (p) => <PoolPlacement pool={p} /> },
          { label: 'Start', render: (p) => <PoolStart pool={p} /> },
          {
            label: 'Actions',
            render: (p) => (
              <>
                <button type="button" className="btn" onClick={() => setEditing(p)}>
                  Edit {p.name}
                </button>
                <ActionButton
                  kind="danger"
                  label={`Delete ${p.name}`}
                  confirm={`Delete pool ${p.name} and its desktops?`}
                  disabledReason={Object.entries(p.counts.byState).some(([s, n]) => n > 0 && isInSession(s as DesktopState)) ? 'users have sessions in it' : false}
                  action={() => poolDelete(p.name)}
                />
              </>
            ),
          },
        ]}
      />
      {editing === undefined ? (
        <button type="button" className="btn btn-primary" onClick={() => setEditing('new')}>
          New pool
        </button>
      ) : (
        <PoolForm key={editing === 'new' ? 'new' : editing.name} pool={editing === 'new' ? undefined : editing} images={images.data ?? []} onDone={() => setEditing(undefined)} />
      )}
    </>
  );
}

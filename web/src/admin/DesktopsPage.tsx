// Every pool's desktops: screen thumbnail, state (a failed one with why), user, version, host; retry, reset and
// destroy enabled by the lifecycle predicates.
import { canDestroy, canReset, canRetry } from '../../../src/contract/desktop-states';
import { poolDesktopReset, poolDesktopRetire, poolDesktopRetry, poolDesktops, poolList } from '../lib/api';
import { useLive } from '../lib/events';
import { timeAgo } from '../lib/format';
import type { DesktopView } from '../lib/types';
import { ActionButton, DataTable, LoadError } from '../lib/ui';
import { DesktopThumbnail } from './DesktopThumbnail';

async function allDesktops(): Promise<DesktopView[]> {
  const pools = await poolList();
  const lists = await Promise.all(pools.map((p) => poolDesktops(p.name)));
  return lists.flat().sort((a, b) => a.name.localeCompare(b.name));
}

export function DesktopsPage() {
  const desktops = useLive(allDesktops, ['desktop', 'pool', 'session']);
  return (
    <>
      <LoadError error={desktops.error} />
      <DataTable<DesktopView>
        caption="Pool desktops"
        rows={desktops.data}
        rowKey={(d) => d.name}
        empty="No desktops: pools create them as spares."
        columns={[
          { label: 'Screen', render: (d) => <DesktopThumbnail vm={d.name} state={d.state} /> },
          { label: 'Desktop', render: (d) => d.name },
          { label: 'Pool', render: (d) => d.pool },
          { label: 'State', render: (d) => <DesktopStateCell desktop={d} /> },
          { label: 'User', render: (d) => d.user ?? '—' },
          { label: 'Image version', render: (d) => d.imageVersion },
          { label: 'Host', render: (d) => d.host ?? '—' },
          { label: 'Since', render: (d) => <time dateTime={d.since}>{timeAgo(d.since)}</time> },
          {
            label: 'Actions',
            render: (d) => (
              <>
                {canRetry(d.state) && (
                  <ActionButton kind="primary" label={`Retry ${d.name}`} done={`${d.name}: tried again`} action={() => poolDesktopRetry(d.pool, d.name)} />
                )}
                <ActionButton
                  label={`Reset ${d.name}`}
                  disabledReason={canReset(d.state) ? false : `a ${d.state} desktop cannot be reset`}
                  confirm={`Reset ${d.name}? Its system disk is re-cloned from the image.`}
                  action={() => poolDesktopReset(d.pool, d.name)}
                />
                <ActionButton
                  kind="danger"
                  label={`Destroy ${d.name}`}
                  disabledReason={canDestroy(d.state) ? false : `a ${d.state} desktop cannot be destroyed`}
                  confirm={`Destroy ${d.name}? The pool creates new spares as its policy says.`}
                  action={() => poolDesktopRetire(d.pool, d.name)}
                />
              </>
            ),
          },
        ]}
      />
    </>
  );
}

const STEP_TEXT = { clone: 'cloning its disk', boot: 'booting', spare: 'waiting as a spare', reset: 'its reset' } as const;

/** The state; for a failed desktop also why: the step, the message, the VM's exit and the console's last line. */
function DesktopStateCell({ desktop: d }: { desktop: DesktopView }) {
  const state = <span className={`state state-${d.state}`}>{d.state}</span>;
  if (!d.failure) return state;
  const f = d.failure;
  return (
    <div className="failure" data-testid={`failure-${d.name}`}>
      {state} while {STEP_TEXT[f.step]}: {f.message}
      {(f.vmExit || f.consoleLine) && (
        <details>
          <summary>Details</summary>
          {f.vmExit && <div>VM exit: <code className="detail">{f.vmExit}</code></div>}
          {f.consoleLine && <div>Last console line: <code className="detail">{f.consoleLine}</code></div>}
        </details>
      )}
    </div>
  );
}

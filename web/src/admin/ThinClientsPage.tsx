// Thin clients seen by the boot chain: enable/disable, pool, auto-login, where they are.
import { poolList, thinClientDelete, thinClientList, thinClientPatch } from '../lib/api';
import { useLive } from '../lib/events';
import { timeAgo } from '../lib/format';
import type { ThinClientView } from '../lib/types';
import { ActionButton, DataTable, LoadError, useNotify } from '../lib/ui';

export function ThinClientsPage() {
  const notify = useNotify();
  const clients = useLive(thinClientList, ['thinclient']);
  const pools = useLive(poolList, ['pool']);
  return (
    <>
      <LoadError error={clients.error} />
      <DataTable<ThinClientView>
        caption="Thin clients (registered at their first network boot)"
        rows={clients.data}
        rowKey={(c) => c.mac}
        empty="No thin client has booted from this server yet."
        columns={[
          { label: 'MAC', render: (c) => <code>{c.mac}</code> },
          { label: 'Name', render: (c) => c.name ?? '—' },
          { label: 'Place', render: (c) => c.place ?? '—' },
          { label: 'State', render: (c) => c.state },
          {
            label: 'Pool',
            render: (c) => (
              <select
                aria-label={`Pool of ${c.mac}`}
                value={c.pool ?? ''}
                onChange={async (e) => {
                  try {
                    await thinClientPatch(c.mac, { pool: e.target.value || null });
                    clients.reload();
                  } catch (err) {
                    notify.error(err, `Pool of ${c.mac}`);
                  }
                }}
              >
                <option value="">(user chooses)</option>
                {(pools.data ?? []).map((p) => (
                  <option key={p.name} value={p.name}>
                    {p.name}
                  </option>
                ))}
              </select>
            ),
          },
          { label: 'Last seen', render: (c) => `${timeAgo(c.lastSeenAt)}${c.lastIp ? ` from ${c.lastIp}` : ''} (${c.bootCount} boots)` },
          { label: 'User', render: (c) => c.currentUser ?? '—' },
          {
            label: 'Actions',
            render: (c) => (
              <>
                <ActionButton
                  label={c.state === 'enabled' ? `Disable ${c.mac}` : `Enable ${c.mac}`}
                  action={async () => {
                    await thinClientPatch(c.mac, { state: c.state === 'enabled' ? 'disabled' : 'enabled' });
                    clients.reload();
                  }}
                />
                <ActionButton
                  kind="danger"
                  label={`Forget ${c.mac}`}
                  action={async () => {
                    await thinClientDelete(c.mac);
                    clients.reload();
                  }}
                />
              </>
            ),
          },
        ]}
      />
    </>
  );
}

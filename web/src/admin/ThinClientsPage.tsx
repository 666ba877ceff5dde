// Thin clients: the inventory of PCs that boot from this server (registered at their first network boot, or
// added by MAC beforehand): name, place, pool, kiosk settings, boot parameters, enable/disable, forget.
import { useState } from 'react';
import { netbootStatus, poolList, thinClientDelete, thinClientList, thinClientPatch } from '../lib/api';
import type { NetbootStatus } from '../../../src/contract/netboot';
import { useLive } from '../lib/events';
import { timeAgo } from '../lib/format';
import type { ThinClientView } from '../lib/types';
import { ActionButton, DataTable, LoadError, useNotify } from '../lib/ui';
import { ThinClientForm } from './ThinClientForm';

/** Keyboard and resolution in a line; each only when set. */
function kioskText(c: ThinClientView): string {
  const parts = [c.keyboardLayout && `keyboard ${c.keyboardLayout}`, c.resolution].filter(Boolean);
  return parts.join(' · ') || '—';
}

/** Where the daemon's netboot comes from and whether it runs (the boot servers these PCs use). */
function netbootText(s: NetbootStatus): string {
  if (s.source === 'none') return 'off: no DHCP or TFTP is served (`ardesia netboot set FILE`, or the site file, turns it on)';
  const from = s.source === 'serve' ? `from the daemon's --netboot ${s.file ?? ''}` : 'set with `ardesia netboot set`';
  const on = ((s.config?.interfaces ?? []) as Array<{ address: string; mode: string }>).map((i) => `${i.address} (${i.mode})`).join(', ');
  return `${from}; ${s.running ? `running on ${on}` : `NOT running${s.error ? `: ${s.error}` : ''}`}`;
}

export function ThinClientsPage() {
  const notify = useNotify();
  const clients = useLive(thinClientList, ['thinclient']);
  const pools = useLive(poolList, ['pool']);
  const netboot = useLive(netbootStatus, ['thinclient']);
  const [editing, setEditing] = useState<ThinClientView | 'new'>();
  return (
    <>
      <LoadError error={clients.error} />
      {netboot.data && (
        <p className="netboot-status" data-testid="netboot-status">
          Netboot: {netbootText(netboot.data)}
        </p>
      )}
      <DataTable<ThinClientView>
        caption="Thin clients (registered at their first network boot, or added by MAC)"
        rows={clients.data}
        rowKey={(c) => c.mac}
        empty="No thin client has booted from this server yet, and none was added."
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
                {c.pool && !(pools.data ?? []).some((p) => p.name === c.pool) && <option value={c.pool}>{c.pool}</option>}
                {(pools.data ?? []).map((p) => (
                  <option key={p.name} value={p.name}>
                    {p.name}
                  </option>
                ))}
              </select>
            ),
          },
          { label: 'Kiosk', render: (c) => <span className="tc-kiosk">{kioskText(c)}</span> },
          { label: 'Boot parameters', render: (c) => (c.bootParams ? <code className="detail tc-boot-params">{c.bootParams}</code> : '—') },
          { label: 'Last seen', render: (c) => `${timeAgo(c.lastSeenAt)}${c.lastIp ? ` from ${c.lastIp}` : ''} (${c.bootCount} boots)` },
          { label: 'User', render: (c) => c.currentUser ?? '—' },
          {
            label: 'Actions',
            render: (c) => (
              <span className="tc-actions">
                <button type="button" className="btn" onClick={() => setEditing(c)}>
                  Edit {c.mac}
                </button>
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
                  confirm={`Forget thin client ${c.mac} and its settings? It registers again as new at its next boot.`}
                  action={async () => {
                    await thinClientDelete(c.mac);
                    if (editing !== 'new' && editing?.mac === c.mac) setEditing(undefined);
                    clients.reload();
                  }}
                />
              </span>
            ),
          },
        ]}
      />
      {editing === undefined ? (
        <button type="button" className="btn btn-primary" onClick={() => setEditing('new')}>
          Add a thin client
        </button>
      ) : (
        <ThinClientForm
          key={editing === 'new' ? 'new' : editing.mac}
          client={editing === 'new' ? undefined : editing}
          pools={pools.data ?? []}
          onDone={() => {
            setEditing(undefined);
            clients.reload();
          }}
        />
      )}
    </>
  );
}

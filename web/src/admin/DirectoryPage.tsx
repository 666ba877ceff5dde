// Directory sources: each source's state — reachable, last sync, users found — "Sync now", and Add / Edit / Delete of the
// sources made here (those of the daemon's --directory file are shown read-only, "from FILE").
import { useState } from 'react';
import { directorySourceDelete, directorySources, directorySync } from '../lib/api';
import { useLive } from '../lib/events';
import { timeAgo } from '../lib/format';
import type { DirectorySourceView } from '../lib/types';
import { ActionButton, DataTable, LoadError } from '../lib/ui';
import { DirectorySourceForm } from './DirectorySourceForm';

const reachableText = (r: boolean | null) => (r === null ? 'not checked yet' : r ? 'reachable' : 'unreachable');

export function DirectoryPage() {
  const sources = useLive(directorySources, ['user']);
  const [editing, setEditing] = useState<DirectorySourceView | 'new' | undefined>();
  return (
    <>
      <p>
        Users of these directories log in with the name they use on their PC; Ardesia makes their account at the first login. Group
        changes apply at the next login and at each sync, which also ends the sessions of users removed or disabled in the directory.
      </p>
      <LoadError error={sources.error} />
      <DataTable<DirectorySourceView>
        caption="Directory sources"
        rows={sources.data}
        rowKey={(s) => s.name}
        empty="No directory source yet: add one here, or start the daemon with serve --directory FILE."
        columns={[
          { label: 'Name', render: (s) => s.name },
          { label: 'Kind', render: (s) => (s.kind === 'ad' ? 'Active Directory' : 'LDAP') },
          { label: 'Servers', render: (s) => s.urls.join(', ') },
          { label: 'TLS', render: (s) => s.tls },
          { label: 'State', render: (s) => <span className={s.reachable === false ? 'state-failed' : undefined}>{reachableText(s.reachable)}</span> },
          { label: 'Last sync', render: (s) => (s.lastSyncAt ? <time dateTime={s.lastSyncAt}>{timeAgo(s.lastSyncAt)}</time> : 'never') },
          { label: 'Users found', render: (s) => (s.usersFound === null ? '—' : s.usersFound) },
          { label: 'Ardesia users', render: (s) => s.ardesiaUsers },
          { label: 'Last error', render: (s) => s.lastSyncError ?? '—' },
          {
            label: 'Settings',
            render: (s) =>
              s.origin === 'file' ? (
                <span className="detail">from {s.file ?? 'the --directory file'} (read-only here)</span>
              ) : (
                <span className="tc-actions">
                  <button type="button" className="btn" onClick={() => setEditing(s)}>
                    Edit {s.name}
                  </button>
                  <ActionButton
                    kind="danger"
                    label={`Delete ${s.name}`}
                    confirm={`Delete the directory source ${s.name}? Its ${s.ardesiaUsers} Ardesia users stay (with their homes), but they can no longer log in through it, and their sessions end now.`}
                    action={async () => {
                      await directorySourceDelete(s.name);
                      if (editing !== 'new' && editing?.name === s.name) setEditing(undefined);
                      sources.reload();
                    }}
                  />
                </span>
              ),
          },
        ]}
      />
      <ActionButton kind="primary" label="Sync now" disabledReason={sources.data?.length ? false : 'no directory source yet'} done="Directory sync finished" action={async () => {
        await directorySync();
        sources.reload();
      }} />
      {editing === undefined ? (
        <button type="button" className="btn" onClick={() => setEditing('new')}>
          Add a directory source
        </button>
      ) : (
        <DirectorySourceForm
          key={editing === 'new' ? 'new' : editing.name}
          source={editing === 'new' ? undefined : editing}
          onDone={() => {
            setEditing(undefined);
            sources.reload();
          }}
        />
      )}
    </>
  );
}

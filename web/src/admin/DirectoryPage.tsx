// Directory sources (serve --directory): each source's state — reachable, last sync, users found — and "Sync now".
import { directorySources, directorySync } from '../lib/api';
import { useLive } from '../lib/events';
import { timeAgo } from '../lib/format';
import type { DirectorySourceView } from '../lib/types';
import { ActionButton, DataTable, LoadError } from '../lib/ui';

const reachableText = (r: boolean | null) => (r === null ? 'not checked yet' : r ? 'reachable' : 'unreachable');

export function DirectoryPage() {
  const sources = useLive(directorySources, ['user']);
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
        empty="No directory source is configured: start the daemon with serve --directory FILE."
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
        ]}
      />
      <ActionButton kind="primary" label="Sync now" disabledReason={sources.data?.length ? false : 'no directory source is configured'} done="Directory sync finished" action={async () => {
        await directorySync();
        sources.reload();
      }} />
    </>
  );
}

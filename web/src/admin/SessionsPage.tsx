// Sessions: who is on which desktop since when, from where, how long the login took (stage by stage); disconnect or log off.
import { canLogoff } from '../../../src/contract/desktop-states';
import { sessionDisconnect, sessionList, sessionLogoff } from '../lib/api';
import { useLive } from '../lib/events';
import { timeAgo } from '../lib/format';
import type { SessionView } from '../lib/types';
import { ActionButton, DataTable, LoadError } from '../lib/ui';
import { LoginTimelineCell } from './LoginTimelineBar';

export function SessionsPage() {
  const sessions = useLive(sessionList, ['session', 'desktop']);
  return (
    <>
      <LoadError error={sessions.error} />
      <DataTable<SessionView>
        caption="Live sessions"
        rows={sessions.data}
        rowKey={(s) => s.desktop}
        empty="Nobody has a session."
        columns={[
          { label: 'User', render: (s) => s.user },
          { label: 'Pool', render: (s) => s.pool },
          { label: 'Desktop', render: (s) => s.desktop },
          { label: 'State', render: (s) => s.state },
          { label: 'Since', render: (s) => <time dateTime={s.since}>{timeAgo(s.since)}</time> },
          { label: 'Login', render: (s) => <LoginTimelineCell desktop={s.desktop} /> },
          { label: 'Clients', render: (s) => s.clients },
          { label: 'Last client', render: (s) => (s.lastClient ? `${s.lastClient.address}${s.lastClient.thinClient ? ` (thin client ${s.lastClient.thinClient})` : ''}` : '—') },
          {
            label: 'Actions',
            render: (s) => (
              <>
                <ActionButton label={`Disconnect ${s.user}`} disabledReason={s.clients === 0 ? 'no client is connected' : false} action={() => sessionDisconnect(s.desktop)} />
                <ActionButton
                  kind="danger"
                  label={`Log off ${s.user}`}
                  disabledReason={canLogoff(s.state) ? false : `the session is ${s.state}`}
                  confirm={`Log ${s.user} off ${s.desktop}? Unsaved work is lost.`}
                  action={() => sessionLogoff(s.desktop)}
                />
              </>
            ),
          },
        ]}
      />
    </>
  );
}

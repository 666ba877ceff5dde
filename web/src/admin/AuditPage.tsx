// The audit log: newest first, live.
import { auditList } from '../lib/api';
import { useLive } from '../lib/events';
import { timeAgo } from '../lib/format';
import type { AuditEntry } from '../lib/types';
import { DataTable, LoadError } from '../lib/ui';

const detailText = (d: unknown): string => (d === null || d === undefined ? '' : typeof d === 'string' ? d : JSON.stringify(d));

export function AuditPage() {
  const audit = useLive(() => auditList(200), ['image', 'pool', 'desktop', 'session', 'thinclient', 'user']);
  return (
    <>
      <LoadError error={audit.error} />
      <DataTable<AuditEntry>
        caption="The newest 200 entries"
        rows={audit.data}
        rowKey={(e) => String(e.id)}
        empty="Nothing recorded yet."
        columns={[
          { label: 'When', render: (e) => <time dateTime={e.at}>{timeAgo(e.at)}</time> },
          { label: 'Who', render: (e) => e.principal },
          { label: 'From', render: (e) => e.address ?? '—' },
          { label: 'Action', render: (e) => e.action },
          { label: 'Target', render: (e) => e.target },
          { label: 'Detail', render: (e) => <code className="detail">{detailText(e.detail)}</code> },
        ]}
      />
    </>
  );
}

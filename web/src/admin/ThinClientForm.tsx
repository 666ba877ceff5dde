// Add a thin client by MAC, or edit one: the fields of ThinClientPatch (src/contract/thinclients.ts). The server
// validates and names what to fix; an edit sends only the fields changed, an emptied one as null (cleared).
import { useState } from 'react';
import { thinClientCreate, thinClientPatch } from '../lib/api';
import type { PoolView, ThinClientCreate, ThinClientPatch, ThinClientView } from '../lib/types';
import { ActionButton, Field } from '../lib/ui';

/** The text settings of a thin client, in the order the form shows them. */
const TEXT_FIELDS = ['name', 'place', 'pool', 'keyboardLayout', 'resolution', 'bootParams', 'kioskUser'] as const;
type TextField = (typeof TEXT_FIELDS)[number];

export type ThinClientDraft = Record<TextField, string> & { mac: string; hold: boolean };

export function draftOf(client: ThinClientView | undefined): ThinClientDraft {
  const text = Object.fromEntries(TEXT_FIELDS.map((f) => [f, client?.[f] ?? ''])) as Record<TextField, string>;
  return { ...text, mac: client?.mac ?? '', hold: false };
}

/** A field as the API takes it: surrounding blanks dropped, empty = no value. */
const valueOf = (text: string): string | null => text.trim() || null;

/** Only the fields that differ from `before`; an emptied field is null, which clears it. */
export function changesOf(before: ThinClientView, draft: ThinClientDraft): ThinClientPatch {
  const changes: ThinClientPatch = {};
  for (const f of TEXT_FIELDS) {
    const value = valueOf(draft[f]);
    if (value !== before[f]) changes[f] = value;
  }
  return changes;
}

/** A new client: the MAC, the fields given, and `disabled` when it is to wait until an administrator enables it. */
export function createBodyOf(draft: ThinClientDraft): ThinClientCreate {
  const body: ThinClientCreate = { mac: draft.mac.trim() };
  for (const f of TEXT_FIELDS) {
    const value = valueOf(draft[f]);
    if (value !== null) body[f] = value;
  }
  if (draft.hold) body.state = 'disabled';
  return body;
}

interface FieldSpec {
  label: string;
  hint?: string;
  placeholder?: string;
}

const FIELD_SPECS: Record<Exclude<TextField, 'pool'>, FieldSpec> = {
  name: { label: 'Name', placeholder: 'desk-07' },
  place: { label: 'Place', placeholder: 'Room 12, desk 3' },
  keyboardLayout: { label: 'Keyboard layout', hint: 'XKB: us, de, fr(bepo); empty = each user’s own', placeholder: 'us' },
  resolution: { label: 'Resolution', hint: '800x600, 1024x768, 1280x1024, 1600x1200, 1680x1050 or 1920x1080; empty = the screen’s own mode', placeholder: '1280x1024' },
  bootParams: { label: 'Boot parameters', hint: 'extra kernel words for this PC', placeholder: 'quiet' },
  kioskUser: {
    label: 'Kiosk account',
    hint: 'opened at boot with no login page (a kiosk account). It is as public as the place where this PC stands: any PC on the network can claim this MAC and open it.',
    placeholder: 'lobby',
  },
};

export function ThinClientForm(props: { client?: ThinClientView; pools: PoolView[]; onDone: () => void }) {
  const { client } = props;
  const [d, setD] = useState<ThinClientDraft>(() => draftOf(client));
  const set = <K extends keyof ThinClientDraft>(k: K, v: ThinClientDraft[K]) => setD((old) => ({ ...old, [k]: v }));
  const text = (f: Exclude<TextField, 'pool'>) => (
    <Field key={f} label={FIELD_SPECS[f].label} hint={FIELD_SPECS[f].hint}>
      <input value={d[f]} placeholder={FIELD_SPECS[f].placeholder} autoComplete="off" spellCheck={false} onChange={(e) => set(f, e.target.value)} />
    </Field>
  );
  // A pool that no longer exists stays selectable, so that opening the form does not change it.
  const poolNames = props.pools.map((p) => p.name);
  if (client?.pool && !poolNames.includes(client.pool)) poolNames.push(client.pool);
  const changes = client ? changesOf(client, d) : undefined;
  const title = client ? `Edit thin client ${client.mac}` : 'Add a thin client';
  return (
    <form className="card form-grid" aria-label={title} onSubmit={(e) => e.preventDefault()}>
      <h2>{client ? `Edit ${client.name ?? client.mac}` : 'New thin client'}</h2>
      <Field label="MAC address" hint={client ? undefined : 'as printed on the PC or its network card'}>
        <input value={d.mac} disabled={!!client} placeholder="52:54:00:12:34:56" autoComplete="off" spellCheck={false} onChange={(e) => set('mac', e.target.value)} />
      </Field>
      {text('name')}
      {text('place')}
      <Field label="Pool">
        <select value={d.pool} onChange={(e) => set('pool', e.target.value)}>
          <option value="">(user chooses)</option>
          {poolNames.map((name) => (
            <option key={name} value={name}>
              {name}
            </option>
          ))}
        </select>
      </Field>
      {text('keyboardLayout')}
      {text('resolution')}
      {text('bootParams')}
      {text('kioskUser')}
      {!client && (
        <label className="inline">
          <input type="checkbox" checked={d.hold} onChange={(e) => set('hold', e.target.checked)} /> Hold until enabled (it may not boot before an administrator enables it)
        </label>
      )}
      <div className="form-actions">
        <ActionButton
          kind="primary"
          label={client ? 'Save thin client' : 'Add thin client'}
          done={client ? `Thin client ${client.mac} saved` : undefined}
          disabledReason={!client && !d.mac.trim() ? 'give the MAC address' : changes && Object.keys(changes).length === 0 ? 'nothing changed' : false}
          action={async () => {
            if (client) await thinClientPatch(client.mac, changesOf(client, d));
            else await thinClientCreate(createBodyOf(d));
            props.onDone();
          }}
        />
        <button type="button" className="btn" onClick={props.onDone}>
          Cancel
        </button>
      </div>
    </form>
  );
}

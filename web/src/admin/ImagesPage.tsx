// Gold images: create/import (with progress), versions with rollback, the maintenance session (edit in the
// browser console, publish, discard).
import { useState } from 'react';
import { imageCreate, imageDiscard, imageEdit, imageList, imagePublish, imageRollback } from '../lib/api';
import { useLive } from '../lib/events';
import { bytes, timeAgo } from '../lib/format';
import type { ImageInfo } from '../lib/types';
import { VncView, type DisplayStatus } from '../lib/VncView';
import { ActionButton, Field, LoadError } from '../lib/ui';
import { OperationProgress } from './OperationProgress';

function ImageCreateForm({ onStarted }: { onStarted: (opId: string) => void }) {
  const [name, setName] = useState('');
  const [source, setSource] = useState<'from' | 'build'>('from');
  const [from, setFrom] = useState('');
  // Raw is never guessed by the server: a raw disk is imported only when the administrator says so.
  const [format, setFormat] = useState<'' | 'qcow2' | 'raw' | 'vmdk' | 'vdi' | 'vhdx'>('');
  return (
    <form
      className="card form-grid"
      aria-label="Create an image"
      onSubmit={(e) => e.preventDefault()}
    >
      <h2>New image</h2>
      <Field label="Name">
        <input value={name} onChange={(e) => setName(e.target.value)} required />
      </Field>
      <Field label="Source">
        <select value={source} onChange={(e) => setSource(e.target.value as 'from' | 'build')}>
          <option value="from">Import a disk file on the server</option>
          <option value="build">Build a Debian desktop image</option>
        </select>
      </Field>
      {source === 'from' && (
        <Field label="Disk file path on the server" hint="qcow2, raw, vmdk, vdi or vhdx">
          <input value={from} onChange={(e) => setFrom(e.target.value)} />
        </Field>
      )}
      {source === 'from' && (
        <Field label="Format" hint="raw disks must be named here; the others are recognised from their header">
          <select value={format} onChange={(e) => setFormat(e.target.value as typeof format)}>
            <option value="">From the file's header (qcow2, vmdk, vdi, vhdx)</option>
            <option value="raw">raw</option>
            <option value="qcow2">qcow2</option>
            <option value="vmdk">vmdk</option>
            <option value="vdi">vdi</option>
            <option value="vhdx">vhdx</option>
          </select>
        </Field>
      )}
      <ActionButton
        kind="primary"
        label="Create image"
        disabledReason={!name ? 'give the image a name' : source === 'from' && !from ? 'give the path of the disk file' : false}
        action={async () => {
          const op = await imageCreate(source === 'from' ? { name, from, ...(format ? { format } : {}) } : { name, build: 'debian' });
          onStarted(op.id);
        }}
      />
    </form>
  );
}

function MaintenanceConsole({ vm }: { vm: string }) {
  const [status, setStatus] = useState<DisplayStatus>({ kind: 'connecting' });
  return (
    <div className="maint-console">
      <p role="status" data-status={status.kind}>
        Console of {vm}: {status.kind}
        {status.kind === 'ended' || status.kind === 'reconnecting' ? ` (${status.reason})` : ''}
      </p>
      <VncView desktop={vm} scale onStatus={setStatus} onRfb={() => undefined} label={`Maintenance console of ${vm}`} />
    </div>
  );
}

function ImageCard({ image, onOperation }: { image: ImageInfo; onOperation: (id: string) => void }) {
  const [console, setConsole] = useState(false);
  const m = image.maintenance;
  return (
    <li className="card">
      <h2>{image.name}</h2>
      <p className="muted">
        current version {image.currentVersion ?? 'none'} · {image.boot.arch}, {image.boot.firmware} · used by {image.desktops.length} desktop(s)
      </p>
      <table className="data compact">
        <caption>Versions of {image.name}</caption>
        <thead>
          <tr>
            <th scope="col">Version</th>
            <th scope="col">Created</th>
            <th scope="col">Size</th>
            <th scope="col">Chain depth</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {image.versions.map((v) => (
            <tr key={v.version}>
              <td>
                {v.version}
                {v.current ? ' (current)' : ''}
              </td>
              <td>
                {timeAgo(v.createdAt)} by {v.createdBy}
              </td>
              <td>{bytes(v.virtualSize)}</td>
              <td>{v.depth}</td>
              <td>
                <ActionButton
                  label={`Roll back to ${v.version}`}
                  disabledReason={v.current ? 'this is the current version' : false}
                  confirm={`Make version ${v.version} of ${image.name} current again? Pools following the latest version will roll.`}
                  action={() => imageRollback(image.name, v.version)}
                />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {m ? (
        <div className="maintenance">
          <p>
            Maintenance session on version {m.baseVersion ?? 'none'} → {m.targetVersion}, by {m.startedBy} {timeAgo(m.startedAt)} (VM {m.vm})
          </p>
          <button type="button" className="btn" aria-expanded={console} onClick={() => setConsole(!console)}>
            {console ? 'Hide console' : 'Open console'}
          </button>
          <ActionButton
            kind="primary"
            label="Publish"
            action={async () => {
              setConsole(false); // publishing powers the maintenance VM off: close its display first
              onOperation((await imagePublish(image.name)).id);
            }}
          />
          <ActionButton kind="danger" label="Discard" confirm={`Throw away the changes made in the maintenance session of ${image.name}?`} action={() => {
              setConsole(false); // the maintenance VM goes with the session
              return imageDiscard(image.name);
            }}
          />
          {console && <MaintenanceConsole vm={m.vm} />}
        </div>
      ) : (
        <ActionButton label="Edit" disabledReason={image.currentVersion === null ? 'the image has no version yet' : false} action={() => imageEdit(image.name)} />
      )}
    </li>
  );
}

export function ImagesPage() {
  const images = useLive(imageList, ['image', 'operation']);
  const [operations, setOperations] = useState<string[]>([]);
  const follow = (id: string) => setOperations((ops) => [...ops, id]);
  return (
    <>
      <LoadError error={images.error} />
      {operations.map((id) => (
        <OperationProgress key={id} id={id} onDone={() => images.reload()} />
      ))}
      <ul className="cards" aria-label="Images">
        {(images.data ?? []).map((image) => (
          <ImageCard key={image.name} image={image} onOperation={follow} />
        ))}
      </ul>
      {images.data?.length === 0 && <p>No gold image yet: create one below.</p>}
      <ImageCreateForm onStarted={follow} />
    </>
  );
}

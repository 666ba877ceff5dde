// A long action (image create/import, publish) followed to its end: progress bar, then result or error.
import { useEffect, useState } from 'react';
import { operationShow } from '../lib/api';
import { errorText } from '../lib/format';
import type { Operation } from '../lib/types';

const POLL_MS = 1000;

export function OperationProgress({ id, onDone }: { id: string; onDone?: (op: Operation) => void }) {
  const [op, setOp] = useState<Operation>();
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    let alive = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async (): Promise<void> => {
      try {
        const next = await operationShow(id);
        if (!alive) return;
        setOp(next);
        if (next.state === 'running') timer = setTimeout(() => void poll(), POLL_MS);
        else onDone?.(next);
      } catch (err) {
        if (alive) setError(err);
      }
    };
    void poll();
    return () => {
      alive = false;
      if (timer) clearTimeout(timer);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [id]);
  if (error) return <p role="alert">The operation cannot be followed: {errorText(error).message}</p>;
  if (!op) return <p>Starting…</p>;
  return (
    <div className="operation" data-state={op.state}>
      <span>
        {op.kind} {op.target}: {op.state === 'running' ? op.message || 'working' : op.state}
      </span>
      {op.state === 'running' && <progress max={100} value={op.progress ?? undefined} aria-label={`${op.kind} ${op.target} progress`} />}
      {op.error && (
        <p role="alert">
          {op.error.message} {op.error.hint}
        </p>
      )}
    </div>
  );
}

// A full garbage collection in another Node process, through its inspector (loopback only): an
// idle daemon does not collect, so without this its RSS holds whatever garbage it last made.
import WebSocket from 'ws';

/** The inspector's WebSocket address from Node's "Debugger listening on ws://…" line. */
export function inspectorUrl(output: string): string | undefined {
  return /Debugger listening on (ws:\/\/\S+)/.exec(output)?.[1];
}

export function collectGarbage(url: string, timeoutMs = 30_000): Promise<void> {
  const ws = new WebSocket(url);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`no answer to HeapProfiler.collectGarbage from ${url} within ${timeoutMs} ms`));
    }, timeoutMs);
    ws.on('open', () => ws.send(JSON.stringify({ id: 1, method: 'HeapProfiler.collectGarbage' })));
    ws.on('message', (data: Buffer) => {
      const msg = JSON.parse(data.toString()) as { id?: number; error?: { message: string } };
      if (msg.id !== 1) return;
      clearTimeout(timer);
      ws.close();
      if (msg.error) reject(new Error(`HeapProfiler.collectGarbage: ${msg.error.message}`));
      else resolve();
    });
    ws.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

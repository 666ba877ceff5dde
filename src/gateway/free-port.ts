// A TCP port free right now on an address (for QEMU's SPICE server, which cannot pick its own).
import { createServer } from 'node:net';

export function freeTcpPort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, host, () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => (port ? resolve(port) : reject(new Error(`no free port on ${host}`))));
    });
  });
}

// Fault injection for crash tests (as etcd's and TiKV's failpoints): ARDESIA_FAILPOINTS="name,…" makes
// the daemon kill itself with SIGKILL at that point, so "killed half-way" is deterministic.
const armed = new Set((process.env.ARDESIA_FAILPOINTS ?? '').split(',').filter(Boolean));

export function failpoint(name: string): void {
  if (armed.has(name)) process.kill(process.pid, 'SIGKILL');
}

// A systemd unit's service command as systemd would run it (pure): where PID 1 is not systemd, the package test
// runs the unit's ExecStart itself, with the unit's environment, capability bounding set and no-new-privileges.

export type UnitFile = Map<string, Map<string, string[]>>;

/** [Section] key=value lines; a key given again adds a value (Environment=, ReadWritePaths=); comments dropped. */
export function unitParse(text: string): UnitFile {
  const unit: UnitFile = new Map();
  let section: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = unit.get(header[1]!) ?? new Map();
      unit.set(header[1]!, section);
      continue;
    }
    const eq = line.indexOf('=');
    if (!section || eq < 0) throw new Error(`not a unit line: ${line}`);
    const key = line.slice(0, eq).trim();
    section.set(key, [...(section.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return unit;
}

export function unitValues(unit: UnitFile, section: string, key: string): string[] {
  return unit.get(section)?.get(key) ?? [];
}

/** KEY=value lines of an environment file; quotes around a value removed (systemd's EnvironmentFile=). */
export function envFileParse(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) throw new Error(`not an environment line: ${line}`);
    env[m[1]!] = m[2]!.replace(/^"(.*)"$|^'(.*)'$/, '$1$2');
  }
  return env;
}

/**
 * The command line and environment of the unit's ExecStart: Environment= first, then each EnvironmentFile=
 * (a leading "-": optional; `readFile` returns undefined for a missing file) over it; `${X}` becomes one word,
 * `$X` splits on whitespace (an empty one is no word), as systemd.service(5) says.
 */
export function unitCommand(unit: UnitFile, readFile: (path: string) => string | undefined): { argv: string[]; env: Record<string, string> } {
  const env: Record<string, string> = {};
  for (const value of unitValues(unit, 'Service', 'Environment')) {
    for (const assignment of value.split(/\s+/).filter(Boolean)) {
      const eq = assignment.indexOf('=');
      env[assignment.slice(0, eq)] = assignment.slice(eq + 1);
    }
  }
  for (const value of unitValues(unit, 'Service', 'EnvironmentFile')) {
    const optional = value.startsWith('-');
    const path = optional ? value.slice(1) : value;
    const text = readFile(path);
    if (text === undefined) {
      if (optional) continue;
      throw new Error(`EnvironmentFile ${path} is missing`);
    }
    Object.assign(env, envFileParse(text));
  }
  const exec = unitValues(unit, 'Service', 'ExecStart');
  if (exec.length !== 1) throw new Error(`expected one ExecStart=, found ${exec.length}`);
  const argv: string[] = [];
  for (const word of exec[0]!.split(/\s+/).filter(Boolean)) {
    const whole = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(word);
    const split = /^\$([A-Za-z_][A-Za-z0-9_]*)$/.exec(word);
    if (whole) argv.push(env[whole[1]!] ?? '');
    else if (split) argv.push(...(env[split[1]!] ?? '').split(/\s+/).filter(Boolean));
    else argv.push(word.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => env[name] ?? ''));
  }
  return { argv, env };
}

/** Capability numbers (linux/capability.h) of the names a unit may list. */
const CAPABILITY_BITS: Record<string, number> = {
  CAP_CHOWN: 0, CAP_DAC_OVERRIDE: 1, CAP_DAC_READ_SEARCH: 2, CAP_FOWNER: 3, CAP_FSETID: 4, CAP_KILL: 5, CAP_SETGID: 6,
  CAP_SETUID: 7, CAP_SETPCAP: 8, CAP_LINUX_IMMUTABLE: 9, CAP_NET_BIND_SERVICE: 10, CAP_NET_BROADCAST: 11, CAP_NET_ADMIN: 12,
  CAP_NET_RAW: 13, CAP_IPC_LOCK: 14, CAP_IPC_OWNER: 15, CAP_SYS_MODULE: 16, CAP_SYS_RAWIO: 17, CAP_SYS_CHROOT: 18,
  CAP_SYS_PTRACE: 19, CAP_SYS_PACCT: 20, CAP_SYS_ADMIN: 21, CAP_SYS_BOOT: 22, CAP_SYS_NICE: 23, CAP_SYS_RESOURCE: 24,
  CAP_SYS_TIME: 25, CAP_SYS_TTY_CONFIG: 26, CAP_MKNOD: 27, CAP_LEASE: 28, CAP_AUDIT_WRITE: 29, CAP_AUDIT_CONTROL: 30, CAP_SETFCAP: 31,
};

/** The unit's CapabilityBoundingSet= names (one line, no "~" inversion: Ardesia's units list what they keep). */
export function unitCapabilities(unit: UnitFile): string[] {
  const values = unitValues(unit, 'Service', 'CapabilityBoundingSet');
  if (values.length !== 1 || values[0]!.startsWith('~')) throw new Error('expected one CapabilityBoundingSet= listing the capabilities kept');
  const names = values[0]!.split(/\s+/).filter(Boolean);
  for (const name of names) if (!(name in CAPABILITY_BITS)) throw new Error(`unknown capability ${name}`);
  return names;
}

/** The mask /proc/PID/status shows as CapBnd for these capabilities (16 hex digits). */
export function capabilityMask(names: readonly string[]): string {
  let mask = 0n;
  for (const name of names) mask |= 1n << BigInt(CAPABILITY_BITS[name]!);
  return mask.toString(16).padStart(16, '0');
}

/** setpriv's --bounding-set argument that keeps exactly these capabilities. */
export function setprivBoundingSet(names: readonly string[]): string {
  return ['-all', ...names.map((n) => `+${n.slice('CAP_'.length).toLowerCase()}`)].join(',');
}

/** [Service] keys the emulation honours (sandboxTarget, unitCommand, setpriv) or that do not confine the process. */
const SERVICE_KEYS_KNOWN = new Set([
  'Type', 'Environment', 'EnvironmentFile', 'ExecStart', 'KillMode', 'Restart', 'RestartSec', 'TimeoutStopSec', 'StandardOutput',
  'StandardError', 'SyslogIdentifier', 'StateDirectory', 'StateDirectoryMode',
  'ProtectSystem', 'ReadWritePaths', 'ProtectHome', 'PrivateTmp', 'NoNewPrivileges', 'CapabilityBoundingSet',
]);

/**
 * A shell script that, run in a new mount namespace (unshare --mount --propagation private), confines the file
 * system as the unit's ProtectSystem=strict, ReadWritePaths=, PrivateTmp=yes and ProtectHome=yes do, then execs its
 * arguments. Bind remounts only (`remount,bind,ro`): they change this namespace's mounts, never the file system's.
 * A [Service] key the emulation does not know is refused, so a new confinement cannot go untested.
 */
export function sandboxScript(unit: UnitFile): string {
  const service = unit.get('Service') ?? new Map<string, string[]>();
  const unknown = [...service.keys()].filter((k) => !SERVICE_KEYS_KNOWN.has(k));
  if (unknown.length > 0) throw new Error(`the package test does not emulate ${unknown.join(', ')}: teach sandboxScript`);
  const one = (key: string): string | undefined => unitValues(unit, 'Service', key)[0];
  const writable = unitValues(unit, 'Service', 'ReadWritePaths').flatMap((v) => v.split(/\s+/)).filter(Boolean);
  const lines = ['set -e'];
  for (const path of writable) lines.push(`mount --bind '${path}' '${path}'`);
  const protect = one('ProtectSystem');
  if (protect !== undefined && protect !== 'strict') throw new Error(`ProtectSystem=${protect}: only strict is emulated`);
  if (protect === 'strict') {
    // Every mount but the API file systems (/dev, /proc, /sys) and the writable paths, read-only in this namespace.
    const keep = ['/dev', '/proc', '/sys', ...writable].map((p) => `"${p}"|"${p}"/*`).join('|');
    lines.push(`for m in $(awk '{print $5}' /proc/self/mountinfo | sort -u); do case "$m" in ${keep}) ;; *) mount -o remount,bind,ro "$m" ;; esac; done`);
  }
  if (one('PrivateTmp') === 'yes') for (const dir of ['/tmp', '/var/tmp']) lines.push(`mount -t tmpfs -o mode=1777 tmpfs ${dir}`);
  if (one('ProtectHome') === 'yes') for (const dir of ['/home', '/root', '/run/user']) lines.push(`if [ -d ${dir} ]; then mount -t tmpfs -o ro,mode=000 tmpfs ${dir}; fi`);
  lines.push('exec "$@"');
  return lines.join('\n');
}

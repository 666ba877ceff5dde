// QEMU's "key=value,key=value" option syntax (QemuOpts and keyval): the only escaping rule is
// that a comma inside a value is written twice. Options that take a bare file name (-kernel,
// -initrd, -bios, -pidfile, -D) are NOT parsed this way and must not be escaped.

export type OptionValue = string | number | boolean | undefined;

/** Doubles every comma, so "/a,b" survives as one value: "/a,,b". */
export function escapeOptionValue(value: string): string {
  return value.replaceAll(',', ',,');
}

function renderValue(value: string | number | boolean): string {
  if (typeof value === 'boolean') return value ? 'on' : 'off';
  return escapeOptionValue(String(value));
}

/**
 * Renders `head,key=value,...`: undefined values are left out, booleans become on/off.
 * `head` is the implied first value (a driver or device name) and is escaped too.
 */
export function renderOption(head: string | undefined, fields: Record<string, OptionValue>): string {
  const parts: string[] = head === undefined ? [] : [escapeOptionValue(head)];
  for (const [key, value] of Object.entries(fields)) {
    if (value !== undefined) parts.push(`${key}=${renderValue(value)}`);
  }
  return parts.join(',');
}

/** QEMU flags that take no value; every other flag is followed by exactly one argument. */
const VALUELESS_FLAGS = new Set(['-nodefaults', '-no-user-config', '-S', '-no-shutdown', '-no-reboot']);

/** One flag (with its value) per line: readable in logs, and what the argv tests compare. */
export function formatArgv(args: readonly string[]): string {
  const lines: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const flag = args[i]!;
    if (VALUELESS_FLAGS.has(flag) || i + 1 >= args.length) lines.push(flag);
    else lines.push(`${flag} ${args[++i]}`);
  }
  return lines.join('\n');
}

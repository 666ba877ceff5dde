// The one error registry: every error a user can meet has a stable code, an HTTP status
// and a message that says what happened and what to do. The API maps codes to status here only.

export const ERROR_REGISTRY = {
  BAD_REQUEST: { status: 400, hint: 'Check the request against the API description at /v1/openapi.json.' },
  VMCONF_PARSE: { status: 400, hint: 'Fix the file at the line and column shown, then load it again.' },
  VMCONF_UNSUPPORTED: { status: 400, hint: 'Remove the option; docs/vmconf.md lists what Ardesia maps and why.' },
  VM_SPEC_INVALID: { status: 400, hint: 'Fix the VM definition and try again.' },
  VM_NOT_FOUND: { status: 404, hint: 'List the defined VMs with `ardesia vm status`.' },
  VM_EXISTS: { status: 409, hint: 'Choose another name, or stop and remove the existing VM first.' },
  VM_RUNNING: { status: 409, hint: 'Stop the VM first with `ardesia vm stop NAME`.' },
  VM_NOT_RUNNING: { status: 409, hint: 'Start it with `ardesia vm start NAME`.' },
  VM_BUSY: { status: 409, hint: 'Another operation on this VM is in progress; wait for it and retry.' },
  VM_FILE_MISSING: { status: 400, hint: 'Check the path; files are resolved on the host running the daemon.' },
  VM_DISK_IN_USE: { status: 409, hint: 'Another VM (or program) has this disk open; stop it or use another disk.' },
  VM_START_FAILED: { status: 500, hint: 'See the QEMU log with `ardesia vm log NAME`.' },
  VM_STOP_TIMEOUT: { status: 504, hint: 'The guest did not power off; use `ardesia vm stop -f NAME` to force it.' },
  VM_WAIT_TIMEOUT: { status: 504, hint: 'The VM is still running; wait longer or stop it.' },
  ACCEL_UNAVAILABLE: { status: 409, hint: 'Run `ardesia host check` to see why; use --accel tcg or auto.' },
  FORBIDDEN: { status: 403, hint: 'Only root or the VM owner may do this.' },
  UNAUTHENTICATED: { status: 401, hint: 'Log in first.' },
  IMAGE_CREATE_FAILED: { status: 500, hint: 'See the message from qemu-img above.' },
  DAEMON_UNREACHABLE: { status: 503, hint: 'Start the daemon with `ardesia serve` (or `npm start`), or point --url/--socket at it.' },
  TIMEOUT: { status: 504, hint: 'The operation took too long; try again.' },
  INTERNAL: { status: 500, hint: 'This is a bug; the daemon log has the details.' },
  FIRMWARE_UNAVAILABLE: { status: 409, hint: 'Install the firmware (Debian: ovmf for 64-bit UEFI, ovmf-ia32 for 32-bit UEFI) or boot this VM with BIOS.' },
} as const satisfies Record<string, { status: number; hint: string }>;

export type ErrorCode = keyof typeof ERROR_REGISTRY;

/** The body of every error response. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; hint: string; details?: unknown };
}

export class ArdesiaError extends Error {
  readonly code: ErrorCode;
  readonly details: unknown;
  constructor(code: ErrorCode, message: string, details?: unknown) {
    super(message);
    this.name = 'ArdesiaError';
    this.code = code;
    this.details = details;
  }
  get status(): number {
    return ERROR_REGISTRY[this.code].status;
  }
  get hint(): string {
    return ERROR_REGISTRY[this.code].hint;
  }
  toBody(): ErrorBody {
    const body: ErrorBody = { error: { code: this.code, message: this.message, hint: this.hint } };
    if (this.details !== undefined) body.error.details = this.details;
    return body;
  }
}

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.prototype.hasOwnProperty.call(ERROR_REGISTRY, code);
}

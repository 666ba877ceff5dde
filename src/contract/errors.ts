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
  IMAGE_HOSTILE: { status: 400, hint: 'The image refers to other files or has impossible header values; export it again as a standalone image (qemu-img convert -O qcow2) and import that.' },
  IMAGE_INVALID: { status: 400, hint: 'qemu-img found the image damaged or unreadable; repair it at its source (qemu-img check -r all on a copy) or export it again.' },
  IMAGE_CORRUPT: { status: 409, hint: 'The image file changed on disk; restore it from a backup or roll back to another version.' },
  HOME_SHRINK_REFUSED: { status: 400, hint: 'A home volume can only grow; give a size at least as large as the current one.' },
  NAME_INVALID: { status: 400, hint: 'Use 1-63 letters, digits, dot, dash or underscore, starting with a letter or digit.' },
  DISK_FULL: { status: 507, hint: 'The data folder is full: free space or grow it, then try again; nothing was changed.' },
  IMAGE_NOT_FOUND: { status: 404, hint: 'List the gold images with `ardesia image list`.' },
  IMAGE_EXISTS: { status: 409, hint: 'Choose another name, or delete the existing image with `ardesia image delete NAME`.' },
  IMAGE_VERSION_NOT_FOUND: { status: 404, hint: 'List the versions with `ardesia image versions NAME`.' },
  IMAGE_NO_VERSION: { status: 409, hint: 'Publish a first version (`ardesia image publish NAME`) before using the image.' },
  IMAGE_IN_USE: { status: 409, hint: 'Destroy or move the dependants listed, then try again.' },
  MAINTENANCE_ACTIVE: { status: 409, hint: 'Publish or discard the open session first (`ardesia image publish|discard NAME`).' },
  MAINTENANCE_NOT_FOUND: { status: 404, hint: 'Open one with `ardesia image edit NAME`.' },
  PUBLISH_FAILED: { status: 500, hint: 'The previous version is still current and the maintenance overlay is kept; fix the cause and publish again.' },
  IMAGE_BUILDER_MISSING: { status: 501, hint: 'This build of Ardesia has no Debian image builder (src/images/build/debian.ts); import a disk with --from or install from --iso.' },
  DESKTOP_NOT_FOUND: { status: 404, hint: 'List the desktops with `ardesia desktop list`.' },
  DESKTOP_EXISTS: { status: 409, hint: 'Choose another name, or destroy the existing desktop first.' },
  HOME_NOT_FOUND: { status: 404, hint: 'List the home volumes with `ardesia home list`.' },
  HOME_LEASED: { status: 409, hint: 'The home volume is attached to another running desktop; stop that desktop first.' },
  CONFIRMATION_REQUIRED: { status: 400, hint: 'Repeat the command with --yes to confirm.' },
  OPERATION_NOT_FOUND: { status: 404, hint: 'Operations are kept in memory for a while after they end; start the action again.' },
  POOL_NOT_ENTITLED: { status: 403, hint: 'Ask an administrator to entitle you (or one of your groups) to the pool.' },
  POOL_FULL: { status: 503, hint: 'Every desktop of the pool is taken; try again later or ask an administrator to raise maxDesktops.' },
  POOL_USER_LIMIT: { status: 409, hint: 'Log off (or have an administrator reset) one of your desktops in this pool first.' },
  POOL_BOOT_STORM: { status: 503, hint: 'Many desktops are starting at once; try again in a moment.' },
  POOL_DESKTOP_BUSY: { status: 503, hint: 'Your previous session is still ending; try again in a moment.' },
  PLACEMENT_NO_HOST_UP: { status: 503, hint: 'No host is up; start an agent or bring a host out of maintenance.' },
  PLACEMENT_NO_CAPACITY: { status: 503, hint: 'No host has enough free memory; stop some desktops or add a host.' },
  // pools and sessions

  // users, groups, login

  // display gateway

  // netboot and thin clients

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

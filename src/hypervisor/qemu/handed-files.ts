// Files the daemon opens and hands to QEMU as inherited descriptors, so that QEMU (an unprivileged account)
// opens nothing of the host by name: block nodes read `/dev/fdset/N` (`-add-fd`), and loaders that take only
// a file name (-kernel, -initrd, -bios) read `/proc/self/fd/K`. Pure: numbers are assigned here, the
// launcher opens the files in this order as fds 3, 4, … (stdio positions).
import { renderOption } from './qemu-options.js';

/** The first descriptor after stdin, stdout and stderr. */
export const FIRST_HANDED_FD = 3;

export interface HandedFile {
  /** The file the daemon opens (absolute). */
  path: string;
  writable: boolean;
  /** The descriptor number QEMU inherits it as. */
  fd: number;
  /** The fdset it joins (`-add-fd`), or undefined for a `/proc/self/fd/K` file. */
  set?: number;
  /** True for files inside the VM's runtime folder, which QEMU's account can change: opened without following links. */
  inRuntimeDir?: boolean;
  /** A file of the daemon's own data folder (a saved state to load): not judged by a VM owner's file policy. */
  daemonFile?: boolean;
  /** A host tap (its interface name in `path`) attached through /dev/net/tun by native/tap-open, not opened as a file. */
  tap?: boolean;
}

export class HandedFiles {
  readonly files: HandedFile[] = [];
  private nextSet = 1;

  constructor(private readonly runtimeDir: string) {}

  private hand(path: string, writable: boolean, set?: number): HandedFile {
    const file: HandedFile = { path, writable, fd: FIRST_HANDED_FD + this.files.length, set, inRuntimeDir: path.startsWith(`${this.runtimeDir}/`) || undefined };
    this.files.push(file);
    return file;
  }

  /**
   * A block node's file as `/dev/fdset/N`. QEMU picks the set's descriptor whose access mode matches the
   * open it makes, so a writable file gets a read-only and a read-write one.
   */
  fdset(path: string, writable: boolean): string {
    const set = this.nextSet++;
    this.hand(path, false, set);
    if (writable) this.hand(path, true, set);
    return `/dev/fdset/${set}`;
  }

  /** A file QEMU reads once by name at start-up (kernel, initrd, BIOS image). */
  procFd(path: string): string {
    return `/proc/self/fd/${this.hand(path, false).fd}`;
  }

  /** A host tap QEMU gets as an open descriptor (`-netdev tap,fd=N`): it never opens /dev/net/tun itself. */
  tapFd(ifname: string): number {
    const file: HandedFile = { path: ifname, writable: true, fd: FIRST_HANDED_FD + this.files.length, tap: true };
    this.files.push(file);
    return file.fd;
  }

  /** `-add-fd` for every fdset member, before the options that use them. */
  args(): string[] {
    return this.files.filter((f) => f.set !== undefined).flatMap((f) => ['-add-fd', renderOption(undefined, { fd: f.fd, set: f.set })]);
  }
}

/** QEMU's messages with the handed-file references put back as the files' own names. */
export function nameHandedFiles(text: string, files: readonly HandedFile[]): string {
  return text.replace(/\/dev\/fdset\/(\d+)|\/proc\/self\/fd\/(\d+)/g, (ref, set?: string, fd?: string) => {
    const file = set !== undefined ? files.find((f) => f.set === Number(set)) : files.find((f) => f.fd === Number(fd));
    return file?.path ?? ref;
  });
}

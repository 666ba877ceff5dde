// Who may view which desktop's display, and the record of display clients coming and going.
// The gateway depends only on the DisplayAccess interface; the implementation below covers what
// exists today (standalone desktops and plain VMs); pool desktops (the session's user) join it later.
import { ArdesiaError } from '../contract/errors.js';
import type { DisplayEnd } from '../contract/display.js';
import type { DesktopInfo } from '../contract/images.js';
import type { VmSpec, VmStatus } from '../contract/vm.js';
import type { Principal } from '../contract/users.js';

export interface DisplayClient {
  /** The client's address as the daemon saw it. */
  address: string;
  /** The thin client's MAC when the portal runs in a kiosk. */
  thinClient?: string;
}

export interface DisplayAccess {
  /** The VM behind a desktop the principal may view; throws FORBIDDEN, DESKTOP_NOT_FOUND or VM_NOT_RUNNING. */
  access(who: Principal, desktopName: string): Promise<{ vm: string }>;
  clientConnected(desktop: string, client: DisplayClient): void;
  clientDisconnected(desktop: string): void;
  /** Input from a client of the desktop (the idle policy counts from the last one). */
  clientActivity?(desktop: string): void;
  /** The desktop's first frame went to this client (the login timeline's last stage). */
  firstFrame?(desktop: string): void;
  /** How to close this connection when the desktop's clients must go (an admin, idle policy, logoff); returns the unregister. */
  onDisconnectRequest?(desktop: string, close: (end: DisplayEnd) => void): () => void;
}

export interface DisplayConnections {
  clients: number;
  lastClient: (DisplayClient & { at: string }) | null;
}

export interface StandaloneDisplayDeps {
  desktops: { show(name: string): Promise<DesktopInfo> };
  vms: { get(name: string): Promise<VmStatus> };
  mayOperate(who: Principal | undefined, spec: VmSpec): boolean;
  log?: { info(obj: object, msg: string): void };
}

/** Standalone desktops: an admin or the desktop's home user. Plain VMs: an admin or the VM's owner. */
export class StandaloneDisplayAccess implements DisplayAccess {
  private readonly connections = new Map<string, DisplayConnections>();

  constructor(private readonly deps: StandaloneDisplayDeps) {}

  async access(who: Principal, name: string): Promise<{ vm: string }> {
    const desktop = await this.deps.desktops.show(name).catch((err: unknown) => {
      if (err instanceof ArdesiaError && err.code === 'DESKTOP_NOT_FOUND') return undefined;
      throw err;
    });
    let vm: VmStatus;
    if (desktop) {
      if (!who.admin && desktop.home !== who.name) throw new ArdesiaError('FORBIDDEN', `desktop ${name} is not yours`);
      vm = await this.deps.vms.get(desktop.vm);
    } else {
      vm = await this.deps.vms.get(name).catch((err: unknown) => {
        if (err instanceof ArdesiaError && err.code === 'VM_NOT_FOUND') throw new ArdesiaError('DESKTOP_NOT_FOUND', `there is no desktop or VM named ${name}`);
        throw err;
      });
      if (!who.admin && !this.deps.mayOperate(who, vm.spec)) throw new ArdesiaError('FORBIDDEN', `vm ${name} is not yours`);
    }
    if (vm.state === 'stopped') throw new ArdesiaError('VM_NOT_RUNNING', `${desktop ? 'desktop' : 'vm'} ${name} is not running`);
    return { vm: vm.name };
  }

  clientConnected(desktop: string, client: DisplayClient): void {
    const now = this.connections.get(desktop) ?? { clients: 0, lastClient: null };
    now.clients++;
    now.lastClient = { ...client, at: new Date().toISOString() };
    this.connections.set(desktop, now);
    this.deps.log?.info({ desktop, ...client, clients: now.clients }, `display client connected to ${desktop}`);
  }

  clientDisconnected(desktop: string): void {
    const now = this.connections.get(desktop);
    if (!now) return;
    now.clients = Math.max(0, now.clients - 1);
    this.deps.log?.info({ desktop, clients: now.clients }, `display client left ${desktop}`);
  }

  /** Display clients of a desktop now, and the last one that came. */
  connectionsOf(desktop: string): DisplayConnections {
    return this.connections.get(desktop) ?? { clients: 0, lastClient: null };
  }
}

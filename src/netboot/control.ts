// The daemon's netboot, set either by `serve --netboot FILE` (read at start, not editable here) or through the API
// (`ardesia netboot set FILE`, the site file), kept in the store so that it survives a restart. A change stops the
// running DHCP/TFTP servers and starts the new ones; if those fail, the previous ones are started again and nothing
// is saved, so a bad change never leaves the site without its boot servers.
import type { Logger } from 'pino';
import { auditAppend } from '../audit/log.js';
import { ArdesiaError } from '../contract/errors.js';
import type { NetbootStatus } from '../contract/netboot.js';
import { type DaemonNetbootDeps, startDaemonNetbootWith } from './daemon-hook.js';
import { loadNetbootConfig, type NetbootConfig, parseNetbootConfig } from './config.js';
import type { NetbootHandle } from './service.js';

/** site_settings key of the API-set configuration (JSON, as parsed: defaults filled in). */
export const NETBOOT_SETTING = 'netboot';

/** NetbootStatus with the configuration's own type. */
export type NetbootState = Omit<NetbootStatus, 'config'> & { config: NetbootConfig | null };

export class NetbootControl {
  private handle: NetbootHandle | undefined;
  private config: NetbootConfig | null = null;
  private error: string | null = null;
  private deps: DaemonNetbootDeps | undefined;

  constructor(
    /** serve --netboot FILE: when given, the only source. */
    private readonly file: string | undefined,
    private readonly log: Logger,
  ) {}

  /** After the listener is up (its port is iPXE's script URL): starts the file's or the store's configuration. */
  async start(deps: DaemonNetbootDeps): Promise<void> {
    this.deps = deps;
    if (this.file) {
      // A bad file stops the daemon's start, as it always did: the administrator is at the console.
      this.config = loadNetbootConfig(this.file);
      this.handle = await startDaemonNetbootWith(this.config, deps);
      return;
    }
    const stored = await this.stored();
    if (!stored) return;
    this.config = stored;
    try {
      this.handle = await startDaemonNetbootWith(stored, deps);
    } catch (err) {
      // The host changed since (an address gone): the daemon still serves; status and the log say why netboot does not.
      this.error = (err as Error).message;
      this.log.error({ err }, `netboot did not start: ${this.error}; fix it with \`ardesia netboot set FILE\``);
    }
  }

  status(): NetbootState {
    return {
      source: this.file ? 'serve' : this.config ? 'api' : 'none',
      file: this.file ?? null,
      config: this.config,
      running: this.handle !== undefined,
      error: this.error,
    };
  }

  /** Replaces the configuration: new servers up, or the previous ones back and the error thrown. */
  async set(input: unknown, who: { principal: string; address?: string }): Promise<NetbootState> {
    this.refuseWhenFromServe();
    const config = parseNetbootConfig(input, 'in the request');
    await this.switchTo(config);
    const value = JSON.stringify(config);
    await this.deps!.store.transaction().execute(async (tx) => {
      await tx.deleteFrom('site_settings').where('key', '=', NETBOOT_SETTING).execute();
      await tx.insertInto('site_settings').values({ key: NETBOOT_SETTING, value }).execute();
    });
    await auditAppend(this.deps!.store, who.principal, 'netboot.set', 'netboot', { interfaces: config.interfaces.map((i) => `${i.address} (${i.mode})`) }, who.address);
    return this.status();
  }

  /** Stops netboot and forgets the configuration. */
  async clear(who: { principal: string; address?: string }): Promise<NetbootState> {
    this.refuseWhenFromServe();
    await this.handle?.close();
    this.handle = undefined;
    this.config = null;
    this.error = null;
    await this.deps!.store.deleteFrom('site_settings').where('key', '=', NETBOOT_SETTING).execute();
    await auditAppend(this.deps!.store, who.principal, 'netboot.clear', 'netboot', undefined, who.address);
    return this.status();
  }

  async close(): Promise<void> {
    await this.handle?.close();
    this.handle = undefined;
  }

  private refuseWhenFromServe(): void {
    if (this.file) throw new ArdesiaError('NETBOOT_CONFIG_FROM_SERVE', `netboot is set by the daemon's --netboot ${this.file}`);
    if (!this.deps) throw new ArdesiaError('INTERNAL', 'netboot control used before the daemon started it');
  }

  private async switchTo(config: NetbootConfig): Promise<void> {
    const previous = this.handle ? this.config : null;
    await this.handle?.close();
    this.handle = undefined;
    try {
      this.handle = await startDaemonNetbootWith(config, this.deps!);
    } catch (cause) {
      const err = cause instanceof ArdesiaError ? cause : new ArdesiaError('NETBOOT_START_FAILED', `netboot did not start with this configuration: ${(cause as Error).message}`);
      if (previous) {
        try {
          this.handle = await startDaemonNetbootWith(previous, this.deps!);
        } catch (again) {
          this.error = (again as Error).message;
          this.log.error({ err: again }, `the previous netboot configuration did not start again: ${this.error}`);
        }
      }
      throw err;
    }
    this.config = config;
    this.error = null;
  }

  private async stored(): Promise<NetbootConfig | null> {
    const row = await this.deps!.store.selectFrom('site_settings').select('value').where('key', '=', NETBOOT_SETTING).executeTakeFirst();
    return row ? parseNetbootConfig(JSON.parse(row.value), 'in the store') : null;
  }
}

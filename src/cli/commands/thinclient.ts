// `ardesia thinclient …`: the thin-client inventory (clients register themselves at their first network boot).
import type { Command } from 'commander';
import { addThinclientBuildCommand } from './thinclient-os.js';
import { SCREEN_MODES, type ThinClientPatch, type ThinClientView } from '../../contract/thinclients.js';
import { oneOf } from '../options.js';
import { output, table } from '../output.js';
import { client, enc, wantsJson } from './image.js';

const dash = (v: string | number | null) => (v === null || v === '' ? '-' : String(v));

function describe(t: ThinClientView): string {
  const rows: Array<[string, string | number | null]> = [
    ['mac', t.mac], ['name', t.name], ['place', t.place], ['state', t.state], ['pool', t.pool],
    ['keyboard', t.keyboardLayout], ['resolution', t.resolution], ['boot params', t.bootParams], ['last seen', t.lastSeenAt],
    ['last ip', t.lastIp], ['boot count', t.bootCount], ['current user', t.currentUser], ['kiosk account', t.kioskUser],
  ];
  return rows.map(([k, v]) => `${`${k}:`.padEnd(14)}${dash(v)}`).join('\n');
}

/** `--pool ''` clears a field; an absent flag leaves it alone. */
const orNull = (v: string | undefined) => (v === undefined ? undefined : v === '' ? null : v);

/** A patch as typed on the command line: the daemon checks the values (and says what it accepts). */
type PatchFlags = { [K in Exclude<keyof ThinClientPatch, 'state'>]?: string | null };

/** The settings the flags name (`--pool ''` clears one); absent flags are left out. */
function patchOf(f: Record<string, string | boolean | undefined>): PatchFlags {
  const text = (v: string | boolean | undefined) => orNull(typeof v === 'string' ? v : undefined);
  const patch: PatchFlags = {
    name: text(f.name), place: text(f.place), pool: text(f.pool), keyboardLayout: text(f.keyboard),
    resolution: text(f.resolution), bootParams: text(f.bootParams), kioskUser: text(f.kioskUser),
  };
  for (const key of Object.keys(patch) as Array<keyof PatchFlags>) if (patch[key] === undefined) delete patch[key];
  return patch;
}

export function registerThinClientCommands(program: Command): void {
  const tc = program.command('thinclient').description('thin clients known by MAC: name, place, pool, kiosk settings; the thin-client OS');
  addThinclientBuildCommand(tc);

  tc.command('list')
    .description('list thin clients')
    .action(async (_f: unknown, cmd: Command) => {
      const all = await client(cmd).request<ThinClientView[]>('GET', '/v1/thinclients');
      if (wantsJson(cmd)) return output(true, all);
      console.log(table(['MAC', 'NAME', 'STATE', 'PLACE', 'POOL', 'LAST IP', 'BOOTS', 'USER', 'LAST SEEN'],
        all.map((t) => [t.mac, dash(t.name), t.state, dash(t.place), dash(t.pool), dash(t.lastIp), String(t.bootCount), dash(t.currentUser), dash(t.lastSeenAt)])));
    });

  tc.command('show')
    .argument('<mac>')
    .action(async (mac: string, _f: unknown, cmd: Command) => {
      const t = await client(cmd).request<ThinClientView>('GET', `/v1/thinclients/${enc(mac)}`);
      output(wantsJson(cmd), wantsJson(cmd) ? t : describe(t));
    });

  const settingOptions = (c: Command) => c
    .option('--name <name>').option('--place <text>').option('--pool <pool>').option('--keyboard <layout>', 'XKB layout, e.g. us, de, fr(bepo)')
    .option('--resolution <WxH>', `one of ${SCREEN_MODES.join(', ')} ('' clears it)`, oneOf([...SCREEN_MODES, ''])).option('--boot-params <words>', 'extra kernel command line words')
    .option('--kiosk-user <name>', "a kiosk account opened at boot with no login page (as public as the PC's place: any PC can claim a MAC; '' clears it)");

  settingOptions(tc.command('add')
    .description('add a PC by MAC before its first boot, with its settings (enabled; --disabled to hold it)')
    .argument('<mac>'))
    .option('--disabled', 'added but not let boot until enabled')
    .action(async (mac: string, f: Record<string, string | boolean | undefined>, cmd: Command) => {
      const body = { mac, ...patchOf(f), ...(f.disabled ? { state: 'disabled' as const } : {}) };
      const t = await client(cmd).request<ThinClientView>('POST', '/v1/thinclients', body);
      output(wantsJson(cmd), wantsJson(cmd) ? t : describe(t));
    });

  settingOptions(tc.command('set')
    .description("change a thin client's settings (an empty value clears one)")
    .argument('<mac>'))
    .action(async (mac: string, f: Record<string, string | undefined>, cmd: Command) => {
      const t = await client(cmd).request<ThinClientView>('PATCH', `/v1/thinclients/${enc(mac)}`, patchOf(f));
      output(wantsJson(cmd), wantsJson(cmd) ? t : describe(t));
    });

  for (const [verb, state] of [['enable', 'enabled'], ['disable', 'disabled']] as const) {
    tc.command(verb)
      .description(verb === 'enable' ? 'let a thin client boot' : 'refuse to boot a thin client (it shows a message and retries)')
      .argument('<mac>')
      .action(async (mac: string, _f: unknown, cmd: Command) => {
        const t = await client(cmd).request<ThinClientView>('PATCH', `/v1/thinclients/${enc(mac)}`, { state });
        output(wantsJson(cmd), wantsJson(cmd) ? t : `ardesia: thin client ${t.mac} ${state}`);
      });
  }

  tc.command('delete')
    .description('forget a thin client (it registers again as new at its next boot)')
    .argument('<mac>')
    .action(async (mac: string, _f: unknown, cmd: Command) => {
      const r = await client(cmd).request<{ deleted: string }>('DELETE', `/v1/thinclients/${enc(mac)}`);
      output(wantsJson(cmd), wantsJson(cmd) ? r : `ardesia: forgot thin client ${r.deleted}`);
    });
}

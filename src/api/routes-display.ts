// Display routes as data: a ticket for the browser's WebSocket, and the SPICE .vv for native clients.
// The WebSocket itself (GET /v1/display/socket) is registered by display-socket.ts.
import { z } from 'zod';
import { ArdesiaError } from '../contract/errors.js';
import { DisplayTicketBody, RawBody } from './responses.js';
import { type ApiRoute, defineRoute, type Principal } from './route.js';
import { spiceOneTimeLogin, virtViewerFile } from '../gateway/spice.js';
import { displayTicketsOf } from '../gateway/tickets.js';
import { SPICE_SUBJECT } from '../tls/certs.js';

const NameParams = z.object({ name: z.string().min(1).max(128) });

export interface DisplayTicketView {
  ticket: string;
  /** Where to open the WebSocket (same origin). */
  path: string;
  expiresAt: string;
}

/** `authenticated` guarantees a principal; this keeps the handlers honest about it. */
function principal(who: Principal | undefined): Principal {
  if (!who) throw new ArdesiaError('UNAUTHENTICATED', 'log in, or send a valid API token');
  return who;
}

export const gatewayRoutes: ApiRoute[] = [
  defineRoute({
    method: 'POST',
    url: '/v1/desktops/:name/display',
    summary: 'A display ticket: opens the desktop’s display once, within 30 s, for this user and browser session',
    access: 'authenticated',
    kiosk: true,
    params: NameParams,
    response: DisplayTicketBody,
    handler: async ({ app, who, params }): Promise<DisplayTicketView> => {
      const caller = principal(who);
      await app.display.access(caller, params.name);
      const { ticket, expiresAt } = displayTicketsOf(app.display).issue(caller, params.name);
      return { ticket, path: `/v1/display/socket?ticket=${encodeURIComponent(ticket)}`, expiresAt: new Date(expiresAt).toISOString() };
    },
  }),
  defineRoute({
    method: 'GET',
    url: '/v1/desktops/:name/spice.vv',
    summary: 'A virt-viewer file for remote-viewer with a one-time SPICE password',
    access: 'authenticated',
    params: NameParams,
    raw: true,
    contentType: 'application/x-virt-viewer',
    response: RawBody,
    handler: async ({ app, who, params }) => {
      const { vm } = await app.display.access(principal(who), params.name);
      const runtime = app.vms.runtimeOf(vm);
      if (!runtime) {
        const host = await app.vms.remoteHostOf(vm);
        if (host === undefined) throw new ArdesiaError('VM_NOT_RUNNING', `vm ${vm} is not running`);
        // On an agent's host: through the controller's relay, which answers with the same certificate QEMU has here.
        if (!app.agents.spice) throw new ArdesiaError('VM_REMOTE_NOT_SUPPORTED', `${params.name} runs on host ${host}: SPICE to it goes through the controller's --listen address, and this controller serves none; use the browser's display`);
        const login = await app.agents.spice.login(vm, host);
        return virtViewerFile({ ...login, ca: app.tls.spiceCaPem(), hostSubject: SPICE_SUBJECT, title: `${params.name} - Ardesia` });
      }
      const login = await spiceOneTimeLogin(runtime);
      // Over TLS the client checks QEMU's certificate against Ardesia's CA and its subject, not the host name.
      const tls = login.tlsPort === undefined ? {} : { ca: app.tls.spiceCaPem(), hostSubject: SPICE_SUBJECT };
      return virtViewerFile({ ...login, ...tls, title: `${params.name} - Ardesia` });
    },
  }),
];

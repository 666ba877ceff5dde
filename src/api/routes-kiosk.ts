// The kiosk exchange. A thin client's portal page (?thinclient=MAC) asks for the kiosk session of its client;
// the session it gets may only open that client's pool desktop (server.ts refuses every route not marked kiosk).
import { sessionCookie } from '../auth/cookies.js';
import { kioskSessionOpen } from '../auth/kiosk.js';
import { sessionCookieMaxAgeS } from '../auth/sessions.js';
import { KioskLoginBody } from '../contract/users.js';
import { MeBody } from './responses.js';
import { type ApiRoute, defineRoute } from './route.js';

export const kioskRoutes: ApiRoute[] = [
  defineRoute({
    method: 'POST',
    url: '/v1/auth/kiosk',
    summary: "Open the kiosk session of a thin client whose inventory names a kiosk account (no password: it only opens that client's desktop)",
    access: 'public',
    body: KioskLoginBody,
    response: MeBody,
    handler: async ({ app, body, address, userAgent, secure, setCookie }) => {
      const { user, sessionId } = await kioskSessionOpen(app.users.db, app.login.throttle, body.thinClient, address, userAgent, Date.now());
      setCookie(sessionCookie(sessionId, { secure, maxAgeS: sessionCookieMaxAgeS() }));
      return app.login.me(user);
    },
  }),
];

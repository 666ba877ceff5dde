// How a desktop display's WebSocket ends, shared by the gateway (which closes it) and the portal (which must
// not reconnect after an ending a person has to see). Codes 4900+ stay clear of the refusals, 4000 + HTTP status.
export type DisplayEnd = 'admin-disconnect' | 'idle' | 'logged-off' | 'host-lost';

export const DISPLAY_CLOSE_CODE: Readonly<Record<DisplayEnd, number>> = {
  'admin-disconnect': 4901,
  idle: 4902,
  'logged-off': 4903,
  /** The desktop's server was judged down: the session is gone, the portal opens a new desktop by itself. */
  'host-lost': 4904,
};

/** The close frame's reason (at most 123 bytes): what the gateway says when it ends a display. */
export const DISPLAY_END_REASON: Readonly<Record<DisplayEnd, string>> = {
  'admin-disconnect': 'DISCONNECTED an administrator disconnected this session',
  idle: 'IDLE the session was disconnected after a time without input',
  'logged-off': 'LOGGED_OFF the session was logged off',
  'host-lost': "HOST_LOST the desktop's server stopped; a new desktop is opened",
};

/** The ending a close code stands for; undefined for any other code (a network drop, a refusal). */
export function displayEndOf(code: number): DisplayEnd | undefined {
  return (Object.keys(DISPLAY_CLOSE_CODE) as DisplayEnd[]).find((end) => DISPLAY_CLOSE_CODE[end] === code);
}

/** Refusals meaning the desktop's server is out of the controller's reach (its agent's link is down): the desktop and its
 *  session may run on untouched (a host cut off from the management network keeps its homes until it is evicted). */
const UNREACHABLE_CODES = new Set(['AGENT_NOT_LINKED', 'AGENT_STREAM_TIMEOUT']);

/** What a reconnecting page tells its user about a display refused with this close (4000 + HTTP status, "CODE message"):
 *  the truth when only the desktop's server is out of reach, or undefined for any other close (the generic text). */
export function displayUnreachableText(code: number, reason: string): string | undefined {
  if (code < 4000 || code > 4599) return undefined;
  if (!UNREACHABLE_CODES.has(reason.split(' ', 1)[0] ?? '')) return undefined;
  return "the server running your desktop cannot be reached now; your session is safe there, and this page reconnects when it is back";
}

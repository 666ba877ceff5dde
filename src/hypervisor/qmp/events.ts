// QMP events as the client emits them, with the data shapes QEMU documents for the ones Ardesia uses.
import type { QmpDisconnectReason } from './errors.js';
import type { QmpTimestamp } from './protocol.js';

/** Data of the events Ardesia reacts to (qapi/run-state.json, qapi/qdev.json in QEMU). */
export interface QmpEventDataMap {
  /** reason: host-qmp-quit, host-signal, guest-shutdown, guest-reset, guest-panic, … */
  SHUTDOWN: { guest: boolean; reason: string };
  /** reason: host-qmp-system-reset, guest-reset, … */
  RESET: { guest: boolean; reason: string };
  STOP: Record<string, never>;
  RESUME: Record<string, never>;
  POWERDOWN: Record<string, never>;
  /** action: pause, poweroff, run; info: the hyper-v or s390 crash details when the guest sent them. */
  GUEST_PANICKED: { action: string; info?: Record<string, unknown> };
  /** device: the id given to device_add, when there was one; path: the QOM path. */
  DEVICE_DELETED: { device?: string; path: string };
}

export type QmpKnownEventName = keyof QmpEventDataMap;

/** Every event, known or not, as emitted on 'event', in QEMU's own wire spelling. */
export interface QmpEvent<Name extends string = string, Data = Record<string, unknown>> {
  event: Name;
  /** {} when QEMU sent no data. */
  data: Data;
  /** The host time at which QEMU emitted it; absent only from non-QEMU peers. */
  timestamp: QmpTimestamp | undefined;
}

/** A known event with its typed data. */
export type QmpTypedEvent<Name extends QmpKnownEventName> = QmpEvent<Name, QmpEventDataMap[Name]>;

/** The event type for a name: typed data for known names, a plain record for others. */
export type QmpEventFor<Name extends string> = Name extends QmpKnownEventName ? QmpTypedEvent<Name> : QmpEvent<Name>;

/** What QmpClient emits: every QMP event raw on 'event', and 'disconnect' exactly once at the end. */
export interface QmpClientEvents {
  event: [event: QmpEvent];
  disconnect: [reason: QmpDisconnectReason];
}

// Predicates over desktop states shared by the API's checks and the UI's buttons. The transition table in
// src/desktops/lifecycle.ts is the authority: its test checks each predicate here against the table.
import type { DesktopState } from './pools.js';

export const canAssign = (s: DesktopState): boolean => s === 'stopped' || s === 'booting' || s === 'ready';
export const canLogoff = (s: DesktopState): boolean => s === 'assigned' || s === 'in-use' || s === 'disconnected';
/** The table accepts reset here, and no reset is already running. */
export const canReset = (s: DesktopState): boolean => s === 'stopped' || s === 'booting' || s === 'ready' || s === 'failed';
/** The table accepts retry here. */
export const canRetry = (s: DesktopState): boolean => s === 'failed';
/** The table accepts retire here, and no retire is already running. */
export const canDestroy = (s: DesktopState): boolean =>
  s === 'provisioning' || s === 'stopped' || s === 'booting' || s === 'ready' || s === 'resetting' || s === 'failed';
/** States of an unassigned desktop that is, or is becoming, a spare (warm or cold). */
export const isSpare = (s: DesktopState): boolean => s === 'provisioning' || s === 'stopped' || s === 'booting' || s === 'ready';
export const isWarm = (s: DesktopState): boolean => s === 'booting' || s === 'ready';
export const isCold = (s: DesktopState): boolean => s === 'provisioning' || s === 'stopped' || s === 'resetting';
/** A session holds the desktop (and the user's home volume may be attached). */
export const isInSession = (s: DesktopState): boolean => canLogoff(s) || s === 'logging-off';
/** A spare desktop anyone entitled may get: spare state and no owner. */
export const isFreeSpare = (d: { state: DesktopState; user: string | null }): boolean => d.user === null && isSpare(d.state);

// Keyboard layouts a user can choose (XKB names, as the guest applies them at session start).
export const KEYBOARD_LAYOUTS: ReadonlyArray<{ id: string; label: string }> = [
  { id: 'us', label: 'English (US)' },
  { id: 'gb', label: 'English (UK)' },
  { id: 'de', label: 'German' },
  { id: 'ch', label: 'Swiss German' },
  { id: 'fr', label: 'French' },
  { id: 'be', label: 'Belgian' },
  { id: 'it', label: 'Italian' },
  { id: 'es', label: 'Spanish' },
  { id: 'pt', label: 'Portuguese' },
  { id: 'nl', label: 'Dutch' },
  { id: 'se', label: 'Swedish' },
  { id: 'no', label: 'Norwegian' },
  { id: 'dk', label: 'Danish' },
  { id: 'fi', label: 'Finnish' },
  { id: 'pl', label: 'Polish' },
  { id: 'cz', label: 'Czech' },
];

/** The list with the user's current layout in it even when it is not one of ours. */
export function layoutChoices(current: string): ReadonlyArray<{ id: string; label: string }> {
  return KEYBOARD_LAYOUTS.some((l) => l.id === current) ? KEYBOARD_LAYOUTS : [{ id: current, label: current }, ...KEYBOARD_LAYOUTS];
}

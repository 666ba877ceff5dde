// Small display helpers: times, sizes and error texts in plain words.
import { ApiError } from './api';

export function timeAgo(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '—';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min ago`;
  return new Date(t).toLocaleString();
}

export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v % 1 === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

/** The sentence a person sees for a failed action: the server's message and what to do. */
export function errorText(err: unknown): { message: string; hint: string } {
  if (err instanceof ApiError) return { message: err.message, hint: err.hint };
  if (err instanceof Error) return { message: err.message, hint: '' };
  return { message: String(err), hint: '' };
}

// Sizes as vmctl writes them: a number with an optional K, M, G or T suffix (powers of 1024).
const UNITS: Record<string, number> = { '': 1, B: 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

/** Bytes from "512M", "2G", "1048576"; undefined when the text is not a size. */
export function parseSize(text: string, defaultUnit: 'B' | 'M' = 'B'): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGTB]?)(?:i?B)?\s*$/i.exec(text);
  if (!m) return undefined;
  const unit = m[2] ? m[2].toUpperCase() : defaultUnit;
  const bytes = Number(m[1]) * (UNITS[unit] ?? 1);
  return Number.isFinite(bytes) ? Math.round(bytes) : undefined;
}

export function formatMiB(mib: number): string {
  return mib % 1024 === 0 ? `${mib / 1024}G` : `${mib}M`;
}

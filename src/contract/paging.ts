// Lists read a page at a time: `?limit=N` (and `&after=NAME` for the pages after the first) on the lists that grow with
// the site (desktops, VMs). A reply whose page is not the last carries `Link: <…>; rel="next"` (RFC 8288) with the next
// page's address; a short page is not the sign of the end (a caller's list may skip VMs it may not operate), the
// missing link is. Without `limit` the whole list comes, as before paging.
import { z } from 'zod';

export const PAGE_LIMIT_MAX = 1000;

export const ListPageQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(PAGE_LIMIT_MAX).optional(),
    after: z.string().min(1).max(255).optional(),
  })
  .strict()
  .refine((q) => q.after === undefined || q.limit !== undefined, { message: 'after is the continuation of a page: give limit too', path: ['after'] });
export type ListPageQuery = z.infer<typeof ListPageQuery>;

/** The store's page of a list query: undefined (the whole list) without a limit. */
export const pageOfQuery = (q: ListPageQuery): { limit: number; after?: string } | undefined =>
  q.limit === undefined ? undefined : q.after === undefined ? { limit: q.limit } : { limit: q.limit, after: q.after };

/** The address of the page after `after`: the request's own path and query, its `after` replaced. */
export function nextPageAddress(requestUrl: string, after: string): string {
  const url = new URL(requestUrl, 'http://ardesia.invalid');
  url.searchParams.set('after', after);
  return `${url.pathname}?${url.searchParams.toString()}`;
}

/** A Link header's rel="next" address (the other relations and parameters ignored), or undefined. */
export function nextPageOf(link: string | undefined): string | undefined {
  for (const part of (link ?? '').split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]*)>(.*)$/.exec(part);
    if (!m) continue;
    const rel = m[2]!.split(';').map((p) => /^\s*rel\s*=\s*"?([^"]*)"?\s*$/i.exec(p)?.[1]).find((v) => v !== undefined);
    if (rel?.toLowerCase().split(/\s+/).includes('next')) return m[1];
  }
  return undefined;
}

// Lists ordered by name, read a page at a time: keyset paging (the rows after a name), so a page stays right while
// rows are added and removed between requests, and each page costs its own rows, not the offset's.

/** At most `limit` rows whose name sorts after `after` (from the first row without it). */
export interface NamePage {
  limit: number;
  after?: string;
}

/** A page's rows, and the name to continue after when more rows follow (absent on the last page). */
export interface Paged<T> {
  items: T[];
  next?: string;
}

/** The page of `rows` read with `limit + 1` (see `pageLimit`): the extra row only says that more follow. */
export function pageOf<T>(rows: T[], page: NamePage | undefined, nameOf: (row: T) => string): Paged<T> {
  if (!page || rows.length <= page.limit) return { items: rows };
  const items = rows.slice(0, page.limit);
  return { items, next: nameOf(items[items.length - 1]!) };
}

/** How many rows a page's query reads: one more than the page, to know whether another follows. */
export const pageLimit = (page: NamePage): number => page.limit + 1;

/** The same page's items turned into others (a page of rows → a page of views), its continuation kept. */
export function pageMap<T, U>(paged: Paged<T>, f: (item: T) => U): Paged<U> {
  return paged.next === undefined ? { items: paged.items.map(f) } : { items: paged.items.map(f), next: paged.next };
}

// Pure check of a list read a page at a time by its Link header (the store-lists benchmark): each page's names,
// each page's next link, the last page without one.
import { nextPageOf } from '../../src/contract/paging.js';

/** One page as read: the address asked, its items' names, its Link header. */
export interface ReadPage {
  path: string;
  names: readonly string[];
  link: string | undefined;
}

/** Throws unless `pages` is `whole` (every name once, in the list's order) read `limit` at a time from `first`: page i
 *  holds names i×limit… (a full page but the last), names the next page after its last name while more follow, and
 *  the last page has no next link. */
export function checkPages(pages: readonly ReadPage[], whole: readonly string[], limit: number, first: string): void {
  if (new Set(whole).size !== whole.length) throw new Error('the whole list names a desktop twice');
  const want = Math.max(1, Math.ceil(whole.length / limit));
  if (pages.length !== want) throw new Error(`${pages.length} pages of ${limit} for ${whole.length} items, not ${want}`);
  pages.forEach((page, i) => {
    const expected = whole.slice(i * limit, (i + 1) * limit);
    const where = `page ${i + 1} of ${want} (${page.path})`;
    if (i === 0 && page.path !== first) throw new Error(`${where}: the first page is not ${first}`);
    if (page.names.length !== expected.length || page.names.some((n, j) => n !== expected[j])) {
      throw new Error(`${where}: ${page.names.length} items, not the whole list's ${i * limit + 1}..${i * limit + expected.length} in order`);
    }
    const next = nextPageOf(page.link);
    if (i === want - 1) {
      if (next !== undefined) throw new Error(`${where}: the last page names a next page (${next})`);
      return;
    }
    if (next === undefined) throw new Error(`${where}: no next link while ${whole.length - (i + 1) * limit} items follow`);
    const url = new URL(next, 'http://bench.invalid');
    if (url.searchParams.get('after') !== expected[expected.length - 1] || url.searchParams.get('limit') !== String(limit)) {
      throw new Error(`${where}: next link ${next} is not the page of ${limit} after ${expected[expected.length - 1]}`);
    }
    if (pages[i + 1]!.path !== next) throw new Error(`${where}: the next page read was ${pages[i + 1]!.path}, not ${next}`);
  });
}

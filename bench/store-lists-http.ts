// The HTTP side of the store-lists benchmark (bench/store-lists.ts): the lists through a daemon's API, each answer
// read to its last byte and its size checked; the desktops list's first page; the whole desktops list read a page at
// a time by following the Link header.
import { type Agent, get } from 'node:http';
import { nextPageOf } from '../src/contract/paging.js';
import { poolsAnswerSize } from './lib/list-answers.js';
import { checkPages, type ReadPage } from './lib/list-pages.js';

/** One way of reading the two lists: each answers the size it got (the caller checks it). */
export interface Lists {
  /** How many desktops the pools list counts. */
  pools(): Promise<number>;
  /** How many desktops the desktops list (or its page) has. */
  desktops(): Promise<number>;
}

interface Answer {
  body: Buffer;
  link: string | undefined;
}

/** A GET read to its last byte (the time), with its Link header. */
function getAnswer(agent: Agent, base: string, token: string, path: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = get(`${base}${path}`, { agent, headers: { authorization: `Bearer ${token}` } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('error', reject);
      res.on('end', () => {
        const body = Buffer.concat(parts);
        if (res.statusCode !== 200) return reject(new Error(`${path}: HTTP ${res.statusCode}: ${body.toString('utf8', 0, 300)}`));
        resolve({ body, link: [res.headers.link ?? []].flat().join(', ') || undefined });
      });
    });
    req.on('error', reject);
  });
}

/** What an answer says, from its JSON; an answer byte for byte the same as the last one read is not parsed again
 *  (2.5 MB of JSON per desktops answer would otherwise be parsed here, on the thread that times the other readers). */
function counted<T>(readOf: (body: unknown) => T): (body: Buffer) => T {
  let known: { body: Buffer; read: T } | undefined;
  return (body) => {
    if (known?.body.equals(body)) return known.read;
    known = { body, read: readOf(JSON.parse(body.toString('utf8')) as unknown) };
    return known.read;
  };
}

const namesOf = (body: unknown): string[] => {
  if (!Array.isArray(body)) throw new Error('GET /v1/desktops did not answer a list');
  return body.map((d: { name?: unknown }) => (typeof d?.name === 'string' ? d.name : '?'));
};

/** Pools and desktops, each in one answer; `desktopsPath` another page of the desktops (the first of a paged read). */
export function httpLists(agent: Agent, base: string, token: string, pools: number, sizes: Map<string, number>, desktopsPath = '/v1/desktops'): Lists {
  const poolsSize = counted((body) => {
    const size = poolsAnswerSize(body);
    return size.pools === pools ? size.desktops : 0;
  });
  const desktopsRead = counted(namesOf);
  return {
    async pools() {
      const { body } = await getAnswer(agent, base, token, '/v1/pools');
      sizes.set('GET /v1/pools', body.length);
      return poolsSize(body);
    },
    async desktops() {
      const { body, link } = await getAnswer(agent, base, token, desktopsPath);
      sizes.set(`GET ${desktopsPath}`, body.length);
      const names = desktopsRead(body);
      // A page that is not the last (here: the first of 500 of 10,000) names the next one after its last item; the
      // whole list names none.
      const after = nextPageOf(link) === undefined ? undefined : new URL(nextPageOf(link)!, 'http://bench.invalid').searchParams.get('after');
      const paged = desktopsPath.includes('limit=');
      if (paged ? after !== names[names.length - 1] : link !== undefined) throw new Error(`GET ${desktopsPath}: Link ${link ?? 'absent'} after ${names.length} items ending ${names[names.length - 1]}`);
      return names.length;
    },
  };
}

/** Pools in one answer; the desktops a page of `limit` at a time from the first, each next page the one the Link
 *  header names, until a page names none. The time ends at the last page's last byte; the pages are checked after
 *  (checkPages: each page's names, against the whole list read in one answer), and a read byte for byte the same as
 *  the last one checked is not parsed again. `into` gets the pages and bytes of the last read. */
export function pagedLists(agent: Agent, base: string, token: string, whole: Lists, limit: number, into: { pages: number; bytes: number }): Lists {
  const first = `/v1/desktops?limit=${limit}`;
  const wholeNames = counted(namesOf);
  let known: { pages: Answer[]; paths: string[]; size: number } | undefined;
  return {
    pools: () => whole.pools(),
    async desktops() {
      const pages: Answer[] = [];
      const paths: string[] = [];
      for (let path: string | undefined = first; path !== undefined; path = nextPageOf(pages[pages.length - 1]!.link)) {
        if (pages.length > 100_000 / limit) throw new Error(`GET ${first}: more than ${pages.length} pages`);
        paths.push(path);
        pages.push(await getAnswer(agent, base, token, path));
      }
      into.pages = pages.length;
      into.bytes = pages.reduce((n, p) => n + p.body.length, 0);
      const same = known !== undefined && known.pages.length === pages.length && pages.every((p, i) => p.link === known!.pages[i]!.link && p.body.equals(known!.pages[i]!.body));
      if (same) return known!.size;
      const read: ReadPage[] = pages.map((p, i) => ({ path: paths[i]!, names: namesOf(JSON.parse(p.body.toString('utf8')) as unknown), link: p.link }));
      const { body } = await getAnswer(agent, base, token, '/v1/desktops');
      checkPages(read, wholeNames(body), limit, first);
      known = { pages, paths, size: read.reduce((n, p) => n + p.names.length, 0) };
      return known.size;
    },
  };
}

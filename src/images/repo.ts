// Store access for images, versions, maintenance sessions, desktops and homes.
import type { Selectable } from 'kysely';
import { now } from '../lib/time.js';
import type { Store } from '../store/db.js';
import { type NamePage, pageLimit } from '../store/paging.js';
import type { DesktopTable, HomeTable, ImageTable, ImageVersionTable, MaintenanceSessionTable } from '../store/schema.js';

export type ImageRow = Selectable<ImageTable>;
export type VersionRow = Selectable<ImageVersionTable>;
export type SessionRow = Selectable<MaintenanceSessionTable>;
export type DesktopRow = Selectable<DesktopTable>;
export type HomeRow = Selectable<HomeTable>;

export const imageGet = (db: Store, name: string) => db.selectFrom('images').selectAll().where('name', '=', name).executeTakeFirst();
export const imageList = (db: Store) => db.selectFrom('images').selectAll().orderBy('name').execute();
export const versionList = (db: Store, image: string) =>
  db.selectFrom('image_versions').selectAll().where('image', '=', image).orderBy('version').execute();
export const versionGet = (db: Store, image: string, version: number) =>
  db.selectFrom('image_versions').selectAll().where('image', '=', image).where('version', '=', version).executeTakeFirst();
export const sessionGet = (db: Store, image: string) => db.selectFrom('maintenance_sessions').selectAll().where('image', '=', image).executeTakeFirst();
export const desktopGet = (db: Store, name: string) => db.selectFrom('desktops').selectAll().where('name', '=', name).executeTakeFirst();
/** Each image's current version, in one query (pool lists). */
export async function imageCurrentVersions(db: Store): Promise<Map<string, number | null>> {
  return new Map((await db.selectFrom('images').select(['name', 'current_version']).execute()).map((r) => [r.name, r.current_version]));
}
/** Every desktop by name, or one page of them (`pageLimit` rows: one more than the page). */
export const desktopList = (db: Store, page?: NamePage) =>
  db
    .selectFrom('desktops')
    .selectAll()
    .$if(page?.after !== undefined, (q) => q.where('name', '>', page!.after!))
    .$if(page !== undefined, (q) => q.limit(pageLimit(page!)))
    .orderBy('name')
    .execute();
export const desktopsOfImage = (db: Store, image: string) => db.selectFrom('desktops').selectAll().where('image', '=', image).orderBy('name').execute();
/** Pool desktops on an image: with desktopsOfImage, the image's dependants. */
export const poolDesktopsOfImage = (db: Store, image: string) => db.selectFrom('pool_desktops').selectAll().where('image', '=', image).orderBy('name').execute();
export const homeGet = (db: Store, user: string) => db.selectFrom('homes').selectAll().where('user', '=', user).executeTakeFirst();
export const homeList = (db: Store) => db.selectFrom('homes').selectAll().orderBy('user').execute();

/** Takes the lease for desktop; false when another desktop holds it. */
export async function homeLease(db: Store, user: string, desktop: string): Promise<boolean> {
  const res = await db
    .updateTable('homes')
    .set({ leased_to: desktop, leased_at: now() })
    .where('user', '=', user)
    .where((eb) => eb.or([eb('leased_to', 'is', null), eb('leased_to', '=', desktop)]))
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

export async function homeRelease(db: Store, user: string, desktop: string): Promise<void> {
  await db.updateTable('homes').set({ leased_to: null, leased_at: null }).where('user', '=', user).where('leased_to', '=', desktop).execute();
}

// An archive checked before anything is restored from it (and a fresh backup before it replaces the old file):
// readable to its end, only plain files and folders under known names, every sha256 as SHA256SUMS says.
import { ArdesiaError } from '../contract/errors.js';
import { archiveProblems, BackupManifest, MANIFEST_FILE, memberProblem, SUMS_FILE, sumsParse } from './manifest.js';
import { tarMembers } from './tar-read.js';

export interface VerifiedArchive {
  manifest: BackupManifest;
  /** member → sha256 as listed (and found). */
  sums: Map<string, string>;
}

const invalid = (file: string, why: string | string[]) =>
  new ArdesiaError('BACKUP_INVALID', `${file} is not an intact Ardesia backup: ${Array.isArray(why) ? why.join('; ') : why}`, Array.isArray(why) ? { problems: why } : undefined);

export async function archiveVerify(file: string): Promise<VerifiedArchive> {
  let members;
  try {
    members = await tarMembers(file, (n) => n === MANIFEST_FILE || n === SUMS_FILE);
  } catch (err) {
    throw invalid(file, (err as Error).message);
  }
  const problems: string[] = [];
  for (const m of members) {
    const p = memberProblem(m.name);
    if (p) problems.push(p);
    else if (m.type !== '0' && m.type !== '5') problems.push(`${m.name} is neither a file nor a folder (tar type ${m.type})`);
  }
  if (problems.length) throw invalid(file, problems);
  const sumsMember = members.find((m) => m.name === SUMS_FILE);
  const manifestMember = members.find((m) => m.name === MANIFEST_FILE);
  if (!sumsMember?.contents || !manifestMember?.contents) throw invalid(file, `no ${!sumsMember ? SUMS_FILE : MANIFEST_FILE} inside`);
  const sums = sumsParse(sumsMember.contents.toString('utf8'));
  if (typeof sums === 'string') throw invalid(file, sums);
  let manifest: BackupManifest;
  try {
    manifest = BackupManifest.parse(JSON.parse(manifestMember.contents.toString('utf8')));
  } catch (err) {
    throw invalid(file, `${MANIFEST_FILE} is not a manifest this release reads (${(err as Error).message.slice(0, 200)})`);
  }
  const actual = new Map(members.filter((m) => m.type === '0').map((m) => [m.name.replace(/\/$/, ''), m.sha256!]));
  const found = archiveProblems(sums, actual, manifest);
  if (found.length) throw invalid(file, found);
  return { manifest, sums };
}

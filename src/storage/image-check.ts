// Checks on images from outside, before anything uses them: the format is decided by our own
// reading of the magic bytes against the name or --format (import-format.ts; qemu-img never guesses,
// raw is never assumed), then the header, then qemu-img info/check.
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { ArdesiaError } from '../contract/errors.js';
import { readHead } from './clone.js';
import { IMAGE_FORMATS, parseVdiHeader, parseVmdkSparseHeader, vmdkDescriptorProblems, type ImageFormat } from './foreign-headers.js';
import { importFormatDecide } from './import-format.js';
import { qcow2Verdict, vdiVerdict, virtualSizeVerdict, type Verdict } from './image-rules.js';
import { qemuImg, qemuImgOutcome, throwIfKilled } from './qemu-img.js';
import { parseQcow2Header, Qcow2ParseError } from './qcow2-header.js';

export interface ImageInspection {
  format: ImageFormat;
  virtualSize: number;
  actualSize: number;
  clusterSize?: number;
}

const CHECKABLE: ReadonlySet<ImageFormat> = new Set(['qcow2', 'vdi', 'vhdx', 'vmdk']);
const FIRST_BYTES = 64 * 1024;
const MAX_VMDK_DESCRIPTOR_BYTES = 1 << 20;

function refuse(path: string, verdict: Verdict): never {
  throw new ArdesiaError(verdict.code, `${path} is refused: ${verdict.reason}`);
}

interface HeaderFacts {
  virtualSize?: number;
  clusterSize?: number;
}

async function qcow2Facts(path: string, name: string, head: Uint8Array, fileSize: number): Promise<HeaderFacts> {
  let header;
  try {
    header = parseQcow2Header(head);
    // extensions and names live in the first cluster; read all of it when clusters are larger
    if (header.clusterBits > 16 && header.clusterBits <= 21 && fileSize > head.length) header = parseQcow2Header(await readHead(path, 2 ** header.clusterBits));
  } catch (err) {
    if (err instanceof Qcow2ParseError) refuse(name, { code: 'IMAGE_HOSTILE', reason: `its qcow2 header is malformed: ${err.message}` });
    throw err;
  }
  const verdict = qcow2Verdict(header, fileSize);
  if (verdict) refuse(name, verdict);
  return { virtualSize: header.virtualSize, clusterSize: 2 ** header.clusterBits };
}

async function vmdkFacts(path: string, name: string, head: Uint8Array, fileSize: number): Promise<HeaderFacts> {
  if (String.fromCharCode(...head.subarray(0, 4)) !== 'KDMV') {
    const problems = vmdkDescriptorProblems(Buffer.from(head).toString('latin1'), false);
    refuse(name, { code: 'IMAGE_HOSTILE', reason: problems.join('; ') });
  }
  const header = parseVmdkSparseHeader(head);
  const descStart = header.descriptorOffsetSectors * 512;
  const descBytes = header.descriptorSizeSectors * 512;
  if (descBytes > MAX_VMDK_DESCRIPTOR_BYTES || descStart + descBytes > fileSize) refuse(name, { code: 'IMAGE_HOSTILE', reason: 'its embedded descriptor lies beyond the file or is absurdly large' });
  if (descBytes > 0) {
    const all = descStart + descBytes <= head.length ? head : await readHead(path, descStart + descBytes);
    const problems = vmdkDescriptorProblems(Buffer.from(all.subarray(descStart, descStart + descBytes)).toString('latin1'), true, basename(name));
    if (problems.length > 0) refuse(name, { code: 'IMAGE_HOSTILE', reason: problems.join('; ') });
  }
  return { virtualSize: header.capacitySectors * 512 };
}

async function headerFacts(path: string, name: string, format: ImageFormat, head: Uint8Array, fileSize: number): Promise<HeaderFacts> {
  if (format === 'qcow2') return qcow2Facts(path, name, head, fileSize);
  if (format === 'vmdk') return vmdkFacts(path, name, head, fileSize);
  if (format === 'vdi') {
    let header;
    try {
      header = parseVdiHeader(head);
    } catch (err) {
      refuse(name, { code: 'IMAGE_INVALID', reason: (err as Error).message });
    }
    const verdict = vdiVerdict(header, fileSize);
    if (verdict) refuse(name, verdict);
    return { virtualSize: header.diskSize };
  }
  return {}; // raw: the file is the disk; vhdx: qemu-img reads the metadata region (it refuses differencing vhdx)
}

function normaliseClaim(path: string, claimedFormat: string | undefined): ImageFormat | undefined {
  if (claimedFormat === undefined || claimedFormat === '') return undefined;
  const claim = claimedFormat.toLowerCase();
  if (!(IMAGE_FORMATS as readonly string[]).includes(claim)) throw new ArdesiaError('IMAGE_INVALID', `${path}: format ${claimedFormat} is not importable; use one of ${IMAGE_FORMATS.join(', ')}`);
  return claim as ImageFormat;
}

/** qemu-img info with the format we detected; refuses anything still naming another file. */
async function qemuInfo(path: string, name: string, format: ImageFormat): Promise<{ virtualSize: number; actualSize: number }> {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(await qemuImg(['info', '-f', format, '--output=json', path])) as Record<string, unknown>;
  } catch (err) {
    if (err instanceof ArdesiaError && err.code === 'IMAGE_CREATE_FAILED') throw new ArdesiaError('IMAGE_INVALID', `${name}: qemu-img cannot read it as ${format}: ${err.message}`);
    throw err;
  }
  if (raw['backing-filename'] !== undefined || raw['full-backing-filename'] !== undefined) refuse(name, { code: 'IMAGE_HOSTILE', reason: `qemu-img sees a backing file ${String(raw['backing-filename'])}` });
  const specific = JSON.stringify(raw['format-specific'] ?? {});
  if (/"data-file"/.test(specific)) refuse(name, { code: 'IMAGE_HOSTILE', reason: 'qemu-img sees an external data file' });
  return { virtualSize: Number(raw['virtual-size']), actualSize: Number(raw['actual-size'] ?? 0) };
}

/** IMAGE_INVALID with qemu-img's own words when `qemu-img check` finds corruption (leaks alone are harmless). */
export async function qemuImgCheck(path: string, format: ImageFormat = 'qcow2', name = path): Promise<void> {
  const outcome = await qemuImgOutcome(['check', '-f', format, path]);
  if (outcome.exitCode === 0 || outcome.exitCode === 3) return;
  throwIfKilled(outcome, `checking ${name}`);
  const words = `${outcome.stdout}\n${outcome.stderr}`.trim().replace(/^qemu-img: /gm, '');
  if (/No space left on device/i.test(words)) throw new ArdesiaError('DISK_FULL', `checking ${name}: the data folder is full: free space or grow it; nothing was changed`);
  throw new ArdesiaError('IMAGE_INVALID', `qemu-img check found problems in ${name}: ${words.replaceAll(path, name)}`);
}

/**
 * Detects, judges and checks an image from outside; throws IMAGE_HOSTILE / IMAGE_INVALID. `path` is
 * what is read (an import passes its open descriptor as /proc/PID/fd/N), `name` what messages say.
 */
export async function inspectForeignImage(path: string, claimedFormat?: string, name = path): Promise<ImageInspection> {
  const claim = normaliseClaim(name, claimedFormat);
  const info = await stat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') throw new ArdesiaError('VM_FILE_MISSING', `${name} does not exist`);
    throw err;
  });
  if (!info.isFile()) throw new ArdesiaError('IMAGE_INVALID', `${name} is not a regular file`);
  const head = await readHead(path, FIRST_BYTES);
  const decision = importFormatDecide({ fileName: basename(name), fileSize: info.size, head, ...(claim ? { claimedFormat: claim } : {}) });
  if (!decision.ok) throw new ArdesiaError('IMAGE_FORMAT_MISMATCH', decision.reason);
  const format = decision.format;
  const facts = await headerFacts(path, name, format, head, info.size);
  const qemu = await qemuInfo(path, name, format);
  const sizeProblem = virtualSizeVerdict(qemu.virtualSize);
  if (sizeProblem) refuse(name, sizeProblem);
  if (facts.virtualSize !== undefined && Math.abs(facts.virtualSize - qemu.virtualSize) >= 2 ** 20) {
    refuse(name, { code: 'IMAGE_HOSTILE', reason: `header says ${facts.virtualSize} bytes but qemu-img reads ${qemu.virtualSize}` });
  }
  if (CHECKABLE.has(format)) await qemuImgCheck(path, format, name);
  return { format, virtualSize: qemu.virtualSize, actualSize: qemu.actualSize, ...(facts.clusterSize ? { clusterSize: facts.clusterSize } : {}) };
}

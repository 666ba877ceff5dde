// The storage core: qcow2 overlays, import checks, integrity, homes, data-folder paths.
export * from './qcow2-header.js';
export * from './qcow2-overlay.js';
export * from './clone.js';
export * from './integrity.js';
export * from './image-check.js';
export * from './image-rules.js';
export * from './foreign-headers.js';
export * from './import.js';
export * from './homes.js';
export * from './paths.js';
export { isDiskFull, DISK_FULL_MESSAGE } from './io.js';
export { qemuImg, imageInfo, type ImageInfo } from './qemu-img.js';
export * from './import-format.js';

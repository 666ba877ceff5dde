// Public surface of the vm.conf reader (OpenBSD vm.conf(5) grammar, plus YAML/JSON spec files).
export { parseVmConfText, loadVmConfFile, loadVmConfWith, specFileKind, realVmConfFs } from './load.js';
export type { SpecFileKind, VmConfFs } from './load.js';
export { parseVmSpecDocument } from './spec-file.js';
export { parseScaledBytes } from './size.js';
export type {
  InstanceOwner,
  InstancePolicy,
  SwitchDef,
  VmConfGlobals,
  VmConfHost,
  VmConfParseOptions,
  VmConfResult,
} from './types.js';
export type { SourcePos } from './errors.js';

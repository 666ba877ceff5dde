// The syntax tree of a vm.conf file: what was written and where, before any meaning is applied.
import type { SourcePos } from './errors.js';

export interface Located<T> {
  value: T;
  pos: SourcePos;
}

export type IfaceOption =
  | { kind: 'switch' | 'bridge' | 'group' | 'model' | 'rdomain'; value: string; pos: SourcePos }
  | { kind: 'lladdr'; locked: boolean; mac?: string; pos: SourcePos }
  | { kind: 'up' | 'down' | 'hostAccess'; pos: SourcePos };

/** Permissions an `allow instance` block grants; cpus/arch/accel are Ardesia extensions. */
export const ALLOW_FLAGS = ['boot', 'memory', 'interface', 'disk', 'cdrom', 'instance', 'cpus', 'arch', 'accel'] as const;
export type AllowFlagName = (typeof ALLOW_FLAGS)[number];

export type AllowEntry = { flag: AllowFlagName; pos: SourcePos } | { flag: 'owner'; owner: string; pos: SourcePos };

export type VmOption =
  | { kind: 'memory' | 'cpus' | 'arch' | 'accel' | 'firmware' | 'owner' | 'interfaces' | 'restartOnHostLoss'; value: string; pos: SourcePos }
  | { kind: 'cdrom' | 'boot' | 'initrd' | 'cmdline' | 'bootDevice'; value: string; pos: SourcePos }
  | { kind: 'disk'; value: string; format?: Located<string>; bus?: Located<string>; pos: SourcePos }
  | { kind: 'enable' | 'disable' | 'sev' | 'seves'; pos: SourcePos }
  | { kind: 'interface'; local: boolean; name?: Located<string>; options: IfaceOption[]; pos: SourcePos }
  | { kind: 'allowInstance'; entries: AllowEntry[]; pos: SourcePos };

export type SwitchOption =
  | { kind: 'interface' | 'group' | 'rdomain'; value: string; pos: SourcePos }
  | { kind: 'enable' | 'disable' | 'lockedLladdr' | 'up' | 'down'; pos: SourcePos };

export interface VmBlock {
  kind: 'vm';
  name: Located<string>;
  /** Set for `vm parent instance name { … }`. */
  parent?: Located<string>;
  options: VmOption[];
  pos: SourcePos;
}

export interface SwitchBlock {
  kind: 'switch';
  name: Located<string>;
  options: SwitchOption[];
  pos: SourcePos;
}

export type GlobalStmt =
  | { kind: 'localPrefix'; value: string; pos: SourcePos }
  | { kind: 'localInet6'; prefix?: string; pos: SourcePos }
  | { kind: 'socketOwner'; value: string; pos: SourcePos }
  | { kind: 'agentx'; context?: string; path?: string; pos: SourcePos }
  | { kind: 'staggeredStart'; parallel: string; delay: string; pos: SourcePos };

export type Statement = VmBlock | SwitchBlock | GlobalStmt;

export interface VmConfAst {
  statements: Statement[];
  /** Absolute (or as given) paths of every file read, the top file first. */
  sources: string[];
  /** Macros defined but never used, with where they were defined. */
  unusedMacros: Located<string>[];
}

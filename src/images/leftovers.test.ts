import assert from 'node:assert/strict';
import { test } from 'node:test';
import { imageLeftovers, type ImageLeftoverFacts } from './leftovers.js';

const none: ImageLeftoverFacts = { sessions: [], vms: [], overlays: [], unrecordedVersionFiles: [], unrecordedImageFolders: [] };
const session = { image: 'win', overlay: '/d/maintenance/win/3.qcow2' };
const ours = (image: string, state: 'stopped' | 'running' = 'stopped') => ({ name: `maint-${image}`, source: `maintenance of image ${image}`, state });

const cases: Array<[string, ImageLeftoverFacts, ReturnType<typeof imageLeftovers>]> = [
  ['nothing left', none, { undefine: [], remove: [], removeFolders: [], kept: [] }],
  ['an open session keeps its VM and overlay; its target written but not recorded (a publish cut short) goes',
    { sessions: [session], vms: [ours('win')], overlays: [session.overlay], unrecordedVersionFiles: ['/d/images/win/3.qcow2'], unrecordedImageFolders: [] },
    { undefine: [], remove: ['/d/images/win/3.qcow2'], removeFolders: [], kept: [] }],
  ['a publish recorded, then cut off: its stopped VM and overlay go',
    { ...none, vms: [ours('win')], overlays: ['/d/maintenance/win/3.qcow2'] },
    { undefine: ['maint-win'], remove: ['/d/maintenance/win/3.qcow2'], removeFolders: [], kept: [] }],
  ['an edit cut off before its session was recorded: the overlay goes',
    { ...none, overlays: ['/d/maintenance/win/4.qcow2'] },
    { undefine: [], remove: ['/d/maintenance/win/4.qcow2'], removeFolders: [], kept: [] }],
  ['a running maintenance VM with no session is kept and said',
    { ...none, vms: [ours('win', 'running')] },
    { undefine: [], remove: [], removeFolders: [], kept: [{ what: 'vm maint-win', why: 'it is running with no maintenance session of image win; stop it (ardesia vm stop -f maint-win) and it is removed at the daemon\'s next start' }] }],
  ['a VM someone named maint-… themselves is not ours',
    { ...none, vms: [{ name: 'maint-win', source: '/etc/ardesia/vm.conf', state: 'stopped' }, { name: 'maint-x', source: 'maintenance of image win', state: 'stopped' }] },
    { undefine: [], remove: [], removeFolders: [], kept: [] }],
  ['a version file whose row gc removed before it was cut off (its number would be the next publish\'s) goes',
    { ...none, unrecordedVersionFiles: ['/d/images/win/5.qcow2'] },
    { undefine: [], remove: ['/d/images/win/5.qcow2'], removeFolders: [], kept: [] }],
  ['another image\'s session does not own this one\'s leftovers',
    { sessions: [session], vms: [ours('lin')], overlays: [session.overlay, '/d/maintenance/lin/2.qcow2'], unrecordedVersionFiles: [], unrecordedImageFolders: [] },
    { undefine: ['maint-lin'], remove: ['/d/maintenance/lin/2.qcow2'], removeFolders: [], kept: [] }],
  ['an image folder no image row names (a delete cut after its rows, a create before its row) goes with its files',
    { ...none, unrecordedImageFolders: ['/d/images/old'], unrecordedVersionFiles: ['/d/images/old/1.qcow2', '/d/images/win/4.qcow2'] },
    { undefine: [], remove: ['/d/images/win/4.qcow2'], removeFolders: ['/d/images/old'], kept: [] }],
];

for (const [name, facts, expected] of cases) {
  test(`image leftovers: ${name}`, () => assert.deepEqual(imageLeftovers(facts), expected));
}

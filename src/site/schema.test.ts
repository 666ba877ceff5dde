import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ArdesiaError } from '../contract/errors.js';
import { siteFileParse, siteProblems } from './schema.js';

test('every problem of a site file is listed at once, each with its path', () => {
  const problems = siteProblems({
    images: [{ name: 'deb', from: '/srv/deb.raw' }],
    groups: ['staff'],
    users: [{ name: 'alice', groups: ['teachers'], password: 'x' }],
    pools: [{ name: 'lab', image: 'win', warmSpares: 20, maxDesktops: 5 }],
    directorySources: [{ name: 'ad', kind: 'ad', urls: ['ldaps://dc1'], userBase: 'dc=x', groupBase: 'dc=x', bind: { dn: 'cn=svc', password: 'hunter2' } }],
  });
  const text = problems.join('\n');
  assert.match(text, /^images\.0\.sha256: an import names the sha256/m);
  assert.match(text, /^users\.0: Unrecognized key\(s\) in object: 'password'/m);
  assert.match(text, /^pools\.0\.warmSpares: warmSpares \+ coldSpares \(20 \+ 0\) exceed maxDesktops \(5\)/m);
  assert.match(text, /^directorySources\.0\.bind\.password: give the password as file:\/absolute\/path or env:VARIABLE, never inline/m);
  assert.ok(problems.length >= 4, text);
});

test('references across sections are checked: groups, images, pools and users named must be in the file', () => {
  const text = siteProblems({
    groups: ['staff', 'staff'],
    users: [{ name: 'alice', groups: ['teachers'] }],
    pools: [{ name: 'lab', image: 'win' }],
    thinClients: [{ mac: '52:54:00:00:00:01', pool: 'kiosk', kioskUser: 'nobody' }],
  }).join('\n');
  assert.match(text, /^groups\.1: staff is listed twice$/m);
  assert.match(text, /^users\.0\.groups\.0: group teachers is not in groups$/m);
  assert.match(text, /^pools\.0\.image: image win is not in images$/m);
  assert.match(text, /^thinClients\.0\.pool: pool kiosk is not in pools$/m);
  assert.match(text, /^thinClients\.0\.kioskUser: user nobody is not in users$/m);
});

test('an image is an import with its sha256 or a build, never both nor neither', () => {
  assert.deepEqual(siteProblems({ images: [{ name: 'a', build: 'debian' }, { name: 'b', from: '/x.qcow2', sha256: 'f'.repeat(64) }] }), []);
  assert.match(siteProblems({ images: [{ name: 'a' }] }).join(), /give exactly one of from/);
  assert.match(siteProblems({ images: [{ name: 'a', build: 'debian', from: '/x', sha256: 'f'.repeat(64) }] }).join(), /give exactly one of from/);
});

test('not YAML: the line is named; a valid file gets the contract defaults', () => {
  assert.throws(() => siteFileParse('pools: [\n', 'site.yaml'), (e: ArdesiaError) => e.code === 'SITE_FILE_INVALID' && /line \d+/.test(e.message));
  const s = siteFileParse('images: [{name: deb, build: debian}]\npools:\n  - {name: lab, image: deb}\n', 'site.yaml');
  assert.equal(s.pools[0]!.warmSpares, 1);
  assert.equal(s.pools[0]!.onLogoff, 'reset');
  assert.throws(() => siteFileParse('users: [{name: "-x"}]\nbogus: 1\n', 'site.yaml'), (e: ArdesiaError) => /has 2 problems/.test(e.message));
});

test('the example of README "The site as code" is a valid site file', () => {
  // Compiled to dist/src/site/: the repository root is three levels up.
  const readme = readFileSync(join(import.meta.dirname, '..', '..', '..', 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## The site as code'));
  const example = /```yaml\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(example, 'README has the example');
  const s = siteFileParse(example, 'README');
  assert.deepEqual([s.images.length, s.users.length, s.pools.length, s.thinClients.length, s.directorySources.length], [2, 2, 1, 1, 1]);
});

test("netboot: its schema's and its own checks (a range outside the subnet), with their paths, among the others", () => {
  const problems = siteProblems({ netboot: { interfaces: [{ address: '10.250.0.1', mode: 'full', ranges: [{ start: '10.251.0.100', end: '10.251.0.199' }] }] }, pools: [{ name: 'p', image: 'missing' }] });
  assert.ok(problems.some((p) => p.startsWith('netboot.interfaces.0: ')), problems.join('\n'));
  assert.ok(problems.includes('pools.0.image: image missing is not in images'), problems.join('\n'));
  assert.ok(siteProblems({ netboot: { interfaces: [{ address: '10.250.0', mode: 'relay' }] } }).some((p) => p.startsWith('netboot.interfaces.0.address: ')));
});

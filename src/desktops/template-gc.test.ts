import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type TemplateBuild, templateBuildsToRemove, type TemplateGcFacts } from './template-gc.js';

const build = (key: string, n: string, current: boolean): TemplateBuild => ({ key, build: n, overlay: `/d/templates/${key}/${n}/system.qcow2`, current });
const old = build('k1', '100', false);
const cur = build('k1', '200', true);
const orphan = build('k2', '300', true);
const none = new Set<string>();

const cases: Array<[string, Partial<TemplateGcFacts>, string[]]> = [
  ['an old build nothing backs onto goes; the wanted current one stays', { wanted: new Set(['k1']) }, ['k1/100', 'k2/300']],
  ['a desktop still backed by the old build keeps it', { wanted: new Set(['k1']), backing: new Set([old.overlay]) }, ['k2/300']],
  ['a current build no pool wants goes once no desktop is its clone', { wanted: new Set(['k1']), backing: new Set([cur.overlay]) }, ['k1/100', 'k2/300']],
  ['a current build no pool wants stays while a desktop is its clone', { wanted: none, backing: new Set([orphan.overlay, cur.overlay]) }, ['k1/100']],
  ['a key being built is left alone', { wanted: none, building: new Set(['k1']) }, ['k2/300']],
  ['nothing wanted, nothing backed: every build goes', {}, ['k1/100', 'k1/200', 'k2/300']],
];

for (const [name, given, want] of cases) {
  test(name, () => {
    const facts: TemplateGcFacts = { builds: [old, cur, orphan], wanted: none, backing: none, building: none, ...given };
    assert.deepEqual(templateBuildsToRemove(facts).map((b) => `${b.key}/${b.build}`), want);
  });
}

test('each removal says why', () => {
  const [a, b] = templateBuildsToRemove({ builds: [old, orphan], wanted: none, backing: none, building: none });
  assert.match(a!.why, /a newer build replaced it/);
  assert.match(b!.why, /no restore pool uses/);
});

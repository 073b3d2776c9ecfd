import { readFileSync } from 'node:fs';
import test from 'ava';
import { settings } from '../src/config/settings.js';
import { exitCodeDescriptions } from '../src/errors.js';
import { commands } from '../src/cli/program.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

test('the README documents every setting, environment variable and exit code', (t) => {
  for (const s of settings) {
    t.true(readme.includes(`\`${s.key}\``), s.key);
    t.true(readme.includes(`\`${s.env}\``), s.env);
  }
  for (const [code, text] of exitCodeDescriptions) t.true(readme.includes(`| ${code} | ${text} |`), `${code} ${text}`);
});

test('the README documents every registered command, and the test command CI runs', (t) => {
  for (const c of commands) t.true(readme.includes(`mtc-batch ${c.name}`), c.name);
  t.regex(readme, /```sh\nnpm test\n```/);
  t.regex(readFileSync(new URL('../../.ci/run', import.meta.url), 'utf8'), /^npm test$/m);
});

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { loadConfig } from '../src/config/load-config.js';
import { defaults, flagName, maskUrl, settings } from '../src/config/settings.js';
import { ConfigError } from '../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'mtc-batch-config-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

function configFile(content: string): string {
  const file = join(dir, `config-${++files}.json`);
  writeFileSync(file, content);
  return file;
}

test('defaults are frozen and used when nothing is set', (t) => {
  const config = loadConfig({ env: {} });
  t.deepEqual({ ...config }, { ...defaults });
  t.is(config.databaseUrl, 'sqlite:./mtc-batch.sqlite');
  t.is(config.redisUrl, 'redis://127.0.0.1:6379');
  t.true(Object.isFrozen(defaults));
  t.true(Object.isFrozen(config));
});

test('file < environment < flags, and an unset flag overrides nothing', (t) => {
  const file = configFile(JSON.stringify({ databaseUrl: 'sqlite:./from-file.sqlite', logLevel: 'warn', redisUrl: 'redis://file:1' }));
  const config = loadConfig({
    configFile: file,
    env: { DATABASE_URL: 'postgres://env/db', MTC_BATCH_LOG_LEVEL: 'error' },
    flags: { databaseUrl: 'sqlite:./from-flag.sqlite', logLevel: undefined },
  });
  t.is(config.databaseUrl, 'sqlite:./from-flag.sqlite');
  t.is(config.logLevel, 'error');
  t.is(config.redisUrl, 'redis://file:1');
});

test('MTC_BATCH_CONFIG names the file when --config is absent', (t) => {
  const file = configFile(JSON.stringify({ logFormat: 'json' }));
  t.is(loadConfig({ env: { MTC_BATCH_CONFIG: file } }).logFormat, 'json');
});

test('an empty environment variable or file value is an error naming it, not "unset"', (t) => {
  const db = t.throws(() => loadConfig({ env: { DATABASE_URL: '' } }), { instanceOf: ConfigError });
  t.is(db?.message, 'DATABASE_URL is set but empty: give a value, or remove it to use the default ("sqlite:./mtc-batch.sqlite")');
  t.is(db?.exitCode, 2);
  t.regex(t.throws(() => loadConfig({ env: { MTC_BATCH_LOG_FORMAT: '' } }))?.message ?? '', /^MTC_BATCH_LOG_FORMAT is set but empty/);
  t.regex(t.throws(() => loadConfig({ env: { MTC_BATCH_DATABASE_SCHEMA: '' } }))?.message ?? '', /^MTC_BATCH_DATABASE_SCHEMA is set but empty.*\(unset\)/);
  t.regex(t.throws(() => loadConfig({ env: { MTC_BATCH_CONFIG: '' } }))?.message ?? '', /^MTC_BATCH_CONFIG is set but empty/);
  const file = configFile(JSON.stringify({ redisUrl: '' }));
  t.regex(t.throws(() => loadConfig({ env: {}, configFile: file }))?.message ?? '', /^"redisUrl" in config file .* is set but empty/);
});

test('a bad value names the setting where it came from and what is allowed', (t) => {
  const fromEnv = t.throws(() => loadConfig({ env: { MTC_BATCH_LOG_FORMAT: 'xml' } }), { instanceOf: ConfigError });
  t.is(fromEnv?.message, 'MTC_BATCH_LOG_FORMAT must be one of auto, human, json; got "xml"');
  const fromFlag = t.throws(() => loadConfig({ env: {}, flags: { databaseUrl: 'mysql://u:pw@h/db' } }), { instanceOf: ConfigError });
  t.regex(fromFlag?.message ?? '', /^--database-url must start with sqlite:, postgres:\/\/.*got "mysql:\/\/u:\*\*\*@h\/db"$/);
  const file = configFile(JSON.stringify({ databaseSchema: 'drop table;' }));
  const fromFile = t.throws(() => loadConfig({ env: {}, configFile: file }), { instanceOf: ConfigError });
  t.true(fromFile?.message.startsWith(`"databaseSchema" in config file ${file} must be a plain lower-case SQL identifier`));
  t.is(fromFile?.exitCode, 2);
  t.regex(t.throws(() => loadConfig({ env: { MTC_BATCH_DATABASE_SCHEMA: 'Hunt_Schema' } }))?.message ?? '', /^MTC_BATCH_DATABASE_SCHEMA must be a plain lower-case SQL identifier .*use "hunt_schema"\); got "Hunt_Schema"$/);
  for (const url of ['postgres://u:pw@127.0.0.1:5432', 'postgres://u:pw@127.0.0.1:5432/', 'mssql://u:pw@db.example/?encrypt=true']) {
    t.regex(t.throws(() => loadConfig({ env: { DATABASE_URL: url } }))?.message ?? '', /^DATABASE_URL names no database: add it after the host/, url);
  }
  t.is(loadConfig({ env: { DATABASE_URL: 'postgres://u:pw@127.0.0.1:5432/db?sslmode=require' } }).databaseUrl, 'postgres://u:pw@127.0.0.1:5432/db?sslmode=require');
  // Checks made on the value itself name where it came from too.
  for (const url of ['sqlite:', 'sqlite://']) {
    t.is(t.throws(() => loadConfig({ env: {}, flags: { databaseUrl: url } }))?.message, `--database-url ${url} needs a file path, e.g. sqlite:./mtc-batch.sqlite`);
  }
  t.regex(t.throws(() => loadConfig({ env: {}, flags: { redisUrl: 'http://x' } }))?.message ?? '', /^--redis-url must start with redis:\/\/, rediss:\/\/, redis\+cluster:\/\/ or rediss\+cluster:\/\//);
});

test('the config file must exist, be JSON, be an object without a key given twice, and hold only known settings', (t) => {
  t.regex(t.throws(() => loadConfig({ env: {}, configFile: '/nonexistent/x.json' }))?.message ?? '', /cannot read the config file \/nonexistent\/x\.json \(from --config\)/);
  t.regex(t.throws(() => loadConfig({ env: {}, configFile: configFile('{nope') }))?.message ?? '', /is not valid JSON/);
  t.regex(t.throws(() => loadConfig({ env: {}, configFile: configFile('[1]') }))?.message ?? '', /must hold one JSON object/);
  // A key given twice: JSON.parse would keep the last one silently.
  const twice = configFile('{"databaseUrl":"sqlite:./a.sqlite","logLevel":"warn","databaseUrl":"sqlite:./b.sqlite"}');
  t.regex(t.throws(() => loadConfig({ env: {}, configFile: twice }), { instanceOf: ConfigError })?.message ?? '', /config file .* is refused: the key "databaseUrl" appears twice in one object; keep one of them/);
  t.regex(t.throws(() => loadConfig({ env: {}, configFile: configFile('{"databaseURL":"x"}') }))?.message ?? '', /unknown setting "databaseURL".*known settings: databaseUrl/);
});

test('flag names and URL masking', (t) => {
  t.is(flagName('databaseUrl'), '--database-url');
  t.is(maskUrl('postgres://bob:s3cret@db:5432/x'), 'postgres://bob:***@db:5432/x');
  t.is(maskUrl('redis://:s3cret@cache:6380'), 'redis://:***@cache:6380');
  t.is(maskUrl('sqlite:./a.sqlite'), 'sqlite:./a.sqlite');
  t.is(maskUrl('postgres://db/x'), 'postgres://db/x');
});

test('every setting refuses injection text and out-of-range numbers, naming where it came from', (t) => {
  const hostile = ["x'; DROP TABLE rescope_queue; --", 'a"b', 'k;FLUSHALL', 'key\\x', 'tab\there', 'line\nbreak'];
  const numbers = ['-1', '0x10', '1e3', '99999999999999999999', 'NaN', '12abc', ' '];
  for (const spec of settings) {
    const values = typeof spec.default === 'number' ? [...numbers, ...hostile] : hostile;
    for (const value of values) {
      const err = t.throws(() => loadConfig({ env: { [spec.env]: value } }), { instanceOf: ConfigError }, `${spec.env}=${JSON.stringify(value)}`);
      t.true(err?.message.startsWith(spec.env), err?.message);
      t.is(err?.exitCode, 2);
      const flag = t.throws(() => loadConfig({ env: {}, flags: { [spec.key]: value } }), { instanceOf: ConfigError });
      t.true(flag?.message.startsWith(flagName(spec.key)), flag?.message);
    }
  }
});

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { loadConfig, settingOrigin } from '../src/config/load-config.js';
import { defaults, flagName, integerIn, maskUrl, settings } from '../src/config/settings.js';
import { ConfigError } from '../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'mtc-batch-config-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

function configFile(content: string): string {
  const file = join(dir, `config-${++files}.json`);
  writeFileSync(file, content);
  return file;
}

/** The message a config file holding `content` is refused with ('' when it is not). */
function fileRefusal(t: ExecutionContext, content: string): string {
  return t.throws(() => loadConfig({ env: {}, configFile: configFile(content) }))?.message ?? '';
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

test('where each setting came from is known for messages; a default has no origin', (t) => {
  const file = configFile(JSON.stringify({ redisUrl: 'redis://file:1', logLevel: 'warn', batchSize: 5 }));
  const config = loadConfig({ configFile: file, env: { MTC_BATCH_LOG_LEVEL: 'error', MTC_BATCH_CONCURRENCY: '2' }, flags: { batchSize: '7', redisUrl: undefined } });
  t.deepEqual(settingOrigin(config, 'redisUrl'), { from: 'file', where: `"redisUrl" in config file ${file}` });
  t.deepEqual(settingOrigin(config, 'logLevel'), { from: 'env', where: 'MTC_BATCH_LOG_LEVEL' });
  t.deepEqual(settingOrigin(config, 'batchSize'), { from: 'flag', where: '--batch-size' });
  t.is(settingOrigin(config, 'databaseUrl'), undefined);
  t.is(settingOrigin({ ...config }, 'redisUrl'), undefined, 'a copy is not the loaded configuration');
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

test('a whole-number setting is plain digits: spaces, a sign, a point, an exponent, hex or leading zeros are refused, not read past', (t) => {
  const port = integerIn(0, 65_535);
  const plainDigits = ': digits only, without spaces, a sign or leading zeros';
  const refused: Array<[unknown, string]> = [
    ['80abc', ''], ['8080.5', ''], ['0x50', ''], ['1e3', ''], ['８０８０', ''], ['-1', ''], ['65536', ''], ['99999999999999999999', ''], ['', ''], [' ', ''],
    [' 8080', plainDigits], ['8080 ', plainDigits], ['\t8080\n', plainDigits], ['08080', plainDigits], ['00', plainDigits], ['-0', plainDigits], ['+80', plainDigits],
    [8080.5, ''], [-1, ''], [65_536, ''], [true, ''], [null, ''], [[8080], ''], [{ port: 8080 }, ''],
  ];
  for (const [raw, hint] of refused) {
    const err = t.throws(() => port(raw, 'MTC_BATCH_SERVE_PORT'), { instanceOf: ConfigError }, JSON.stringify(raw));
    t.is(err?.message, `MTC_BATCH_SERVE_PORT must be a whole number from 0 to 65535; got ${JSON.stringify(raw)}${hint}`);
    t.is(err?.exitCode, 2);
  }
  for (const [raw, value] of [['0', 0], ['8080', 8080], ['65535', 65_535], [8080, 8080], [0, 0]] as const) t.is(port(raw, 'X'), value, JSON.stringify(raw));
  // A JSON file may hold -0: it is the number 0, not a "-0" to listen on.
  t.true(Object.is(port(-0, 'X'), 0));
  // Every whole-number setting and flag shares the parser.
  t.is(t.throws(() => loadConfig({ env: { MTC_BATCH_BATCH_SIZE: '0500' } }))?.message, `MTC_BATCH_BATCH_SIZE must be a whole number from 1 to 50000; got "0500"${plainDigits}`);
  t.is(t.throws(() => loadConfig({ env: {}, flags: { leaseSeconds: '600 ' } }))?.message, `--lease-seconds must be a whole number from 1 to 604800; got "600 "${plainDigits}`);
});

test('the serve port is refused with the same message from a flag, the environment or the config file', (t) => {
  const file = configFile(JSON.stringify({ servePort: ' 8080' }));
  const numberFile = configFile('{"servePort": 8080.5}');
  for (const [where, load, got] of [
    ['--serve-port', () => loadConfig({ env: {}, flags: { servePort: '80abc' } }), '"80abc"'],
    ['--serve-port', () => loadConfig({ env: {}, flags: { servePort: '65536' } }), '"65536"'],
    ['MTC_BATCH_SERVE_PORT', () => loadConfig({ env: { MTC_BATCH_SERVE_PORT: ' 8080' } }), '" 8080": digits only, without spaces, a sign or leading zeros'],
    ['MTC_BATCH_SERVE_PORT', () => loadConfig({ env: { MTC_BATCH_SERVE_PORT: '0x50' } }), '"0x50"'],
    ['MTC_BATCH_SERVE_PORT', () => loadConfig({ env: { MTC_BATCH_SERVE_PORT: '-1' } }), '"-1"'],
    [`"servePort" in config file ${file}`, () => loadConfig({ env: {}, configFile: file }), '" 8080": digits only, without spaces, a sign or leading zeros'],
    [`"servePort" in config file ${numberFile}`, () => loadConfig({ env: {}, configFile: numberFile }), '8080.5'],
  ] as const) {
    const err = t.throws(load, { instanceOf: ConfigError });
    t.is(err?.message, `${where} must be a whole number from 0 to 65535; got ${got}`);
  }
  t.is(loadConfig({ env: { MTC_BATCH_SERVE_PORT: '0' } }).servePort, 0, '0: any free port');
});

test('the config file must exist, be JSON, be an object without a key given twice, and hold only known settings', (t) => {
  t.regex(t.throws(() => loadConfig({ env: {}, configFile: '/nonexistent/x.json' }))?.message ?? '', /cannot read the config file \/nonexistent\/x\.json \(from --config\)/);
  t.regex(fileRefusal(t, '{nope'), /is not valid JSON/);
  t.regex(fileRefusal(t, '[1]'), /must hold one JSON object/);
  // A key given twice: JSON.parse would keep the last one silently.
  const twice = configFile('{"databaseUrl":"sqlite:./a.sqlite","logLevel":"warn","databaseUrl":"sqlite:./b.sqlite"}');
  t.regex(t.throws(() => loadConfig({ env: {}, configFile: twice }), { instanceOf: ConfigError })?.message ?? '', /config file .* is refused: the key "databaseUrl" appears twice in one object; keep one of them/);
  t.regex(fileRefusal(t, '{"databaseURL":"x"}'), /unknown setting "databaseURL".*known settings: databaseUrl/);
});

test('flag names and URL masking', (t) => {
  t.is(flagName('databaseUrl'), '--database-url');
  t.is(maskUrl('postgres://bob:s3cret@db:5432/x'), 'postgres://bob:***@db:5432/x');
  t.is(maskUrl('redis://:s3cret@cache:6380'), 'redis://:***@cache:6380');
  t.is(maskUrl('sqlite:./a.sqlite'), 'sqlite:./a.sqlite');
  t.is(maskUrl('postgres://db/x'), 'postgres://db/x');
});

test('URL masking hides secrets in a query string or fragment too, keeping the settings that hold none', (t) => {
  t.is(maskUrl('redis://127.0.0.1:16599?password=TopSecret'), 'redis://127.0.0.1:16599?password=***');
  t.is(maskUrl('redis://u:pw@h:6379/3?db=4&tls=true&password=x&sentinelPassword=y#frag'), 'redis://u:***@h:6379/3?db=4&tls=true&password=***&sentinelPassword=***#***');
  // A key percent-encoded, a bare value, a value holding "@" (which the credentials' last-"@" reading would split).
  t.is(maskUrl('redis://h:1?pass%77ord=x'), 'redis://h:1?pass%77ord=***');
  t.is(maskUrl('redis://h:1?TopSecret'), 'redis://h:1?***');
  t.is(maskUrl('redis://h:6379?password=Top@Secret'), 'redis://h:***');
  t.is(maskUrl('redis+cluster://a:1,b:2?password=x'), 'redis+cluster://a:1,b:2?password=***');
  t.is(maskUrl('postgres://h/db?password=x&sslmode=require'), 'postgres://h/db?password=***&sslmode=require');
  // Where a socket and a user name are given in the query, the operator sees which were tried.
  t.is(maskUrl('postgres:///test?host=/var/run/postgresql&user=mtc&password=x'), 'postgres:///test?host=/var/run/postgresql&user=mtc&password=***');
  t.is(maskUrl('postgres://h/db?options=-c%20search_path%3Dother'), 'postgres://h/db?options=-c%20search_path%3Dother', 'server options say which schema was read');
  // What was masked before is masked as before.
  t.is(maskUrl('mssql://u:pw@db/x?encrypt=false&trustServerCertificate=true'), 'mssql://u:***@db/x?encrypt=false&trustServerCertificate=true');
  t.is(maskUrl('redis://u:pa?ss@host'), 'redis://u:***@host');
  t.is(maskUrl('redis://u:pa#ss@host'), 'redis://u:***@host');
  t.is(maskUrl('redis://:@host'), 'redis://:***@host');
});

test('a query string or fragment in the Redis URL is refused, naming where it came from, its secrets masked (exit 2)', (t) => {
  const file = configFile(JSON.stringify({ redisUrl: 'redis://h:6379/2?tls=true&password=FromFile' }));
  for (const [where, load] of [
    ['--redis-url', () => loadConfig({ env: {}, flags: { redisUrl: 'redis://127.0.0.1:16599?password=TopSecret' } })],
    ['REDIS_URL', () => loadConfig({ env: { REDIS_URL: 'redis://u:Pw1@127.0.0.1:6379?db=4' } })],
    [`"redisUrl" in config file ${file}`, () => loadConfig({ env: {}, configFile: file })],
    ['REDIS_URL', () => loadConfig({ env: { REDIS_URL: 'rediss://127.0.0.1:6379/1#TopSecret' } })],
    ['REDIS_URL', () => loadConfig({ env: { REDIS_URL: 'redis://127.0.0.1:6379?' } })],
    ['REDIS_URL', () => loadConfig({ env: { REDIS_URL: 'redis://h:6379?password=Top@Secret' } })],
  ] as const) {
    const err = t.throws(load, { instanceOf: ConfigError });
    t.is(err?.exitCode, 2);
    t.true(err?.message.startsWith(`${where} must not hold a query string or fragment ("?…", "#…"): write the credentials as user:pass@ before the host and the database as /db after it`), err?.message);
    t.regex(err?.message ?? '', /; got "redis/);
    t.false(/TopSecret|Secret|FromFile|Pw1/.test(err?.message ?? ''), err?.message);
  }
  t.regex(
    t.throws(() => loadConfig({ env: { REDIS_URL: 'redis://127.0.0.1:6379?db=4' } }))?.message ?? '',
    /e\.g\. redis:\/\/user:pass@host:6379\/2 \(rediss:\/\/ for TLS\); got "redis:\/\/127\.0\.0\.1:6379\?db=4"$/,
  );
  const cluster = t.throws(() => loadConfig({ env: { REDIS_URL: 'redis+cluster://a:7000,b:7001?password=TopSecret' } }), { instanceOf: ConfigError });
  t.is(cluster?.message, 'REDIS_URL must not hold a query string or fragment ("?…", "#…"): write the credentials as user:pass@ before the hosts, e.g. redis+cluster://user:pass@host1:7000,host2:7001 (rediss+cluster:// for TLS); got "redis+cluster://a:7000,b:7001?password=***"');
  // A "?" or "#" inside the password is still said to be one (it must be percent-encoded).
  t.regex(t.throws(() => loadConfig({ env: { REDIS_URL: 'redis://u:pa?ss@h:6379' } }))?.message ?? '', /^REDIS_URL: the password holds "\?"/);
  // The documented forms pass, and a database URL keeps its query string (mssql's options).
  t.is(loadConfig({ env: { REDIS_URL: 'redis://u:p%3Fss@h:6379/2' } }).redisUrl, 'redis://u:p%3Fss@h:6379/2');
  t.is(loadConfig({ env: { DATABASE_URL: 'mssql://u:pw@db/x?encrypt=false' } }).databaseUrl, 'mssql://u:pw@db/x?encrypt=false');
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

test('a config file that starts with a byte-order mark is read as the JSON after it; a mark inside the JSON is still an error', (t) => {
  const file = configFile(`\uFEFF${JSON.stringify({ redisUrl: 'redis://file:1', batchSize: 5 })}`);
  const config = loadConfig({ configFile: file, env: {} });
  t.is(config.redisUrl, 'redis://file:1');
  t.is(config.batchSize, 5);
  t.regex(fileRefusal(t, '\uFEFF\uFEFF{}'), /^the config file .* is not valid JSON/);
});

test('a number in the config file is shown as read when refused: 1e400 as Infinity and -0 as -0, not null and 0', (t) => {
  t.regex(fileRefusal(t, '{"batchSize": 1e400}'), /"batchSize" in config file .* must be a whole number from 1 to \d+; got Infinity$/);
  t.regex(fileRefusal(t, '{"batchSize": -0}'), /"batchSize" in config file .* must be a whole number from 1 to \d+; got -0$/);
});

import test from 'ava';
import { PassThrough } from 'node:stream';
import { type Fields, createLogger } from '../src/log/logger.js';

/** Every line a logger writes, as text. */
function capture(options: { base?: Fields; now?: () => Date; level?: 'debug' | 'info' } = {}) {
  const stream = new PassThrough();
  const lines: string[] = [];
  stream.on('data', (chunk: Buffer) => lines.push(...chunk.toString('utf8').split('\n').filter((l) => l !== '')));
  const log = createLogger({ format: 'json', level: options.level ?? 'info', stream, ...(options.base ? { base: options.base } : {}), ...(options.now ? { now: options.now } : {}) });
  return { log, lines };
}

/** What a record's line must be: JSON.stringify of the whole record, bigints as text and errors as name and message. */
function expected(time: Date, level: string, msg: string, base: Fields, fields: Fields | undefined): string {
  return JSON.stringify({ time: time.toISOString(), level, msg, ...base, ...fields }, (_k, v: unknown) =>
    typeof v === 'bigint' ? v.toString() : v instanceof Error ? { name: v.name, message: v.message } : v,
  );
}

test('JSON lines are exactly JSON.stringify of the record, whatever the fields hold', (t) => {
  const at = new Date('2026-03-02T10:00:00.007Z');
  const base = { command: 'serve', pod: 'a"b\\c' };
  const { log, lines } = capture({ base, now: () => at });
  const cases: Fields[] = [
    { method: 'GET', route: '/api/rescope/:version/scope/skipped', path: '/api/x?y="z"\n\u2028\ud800', status: 200, ms: 1.5, caller: undefined, reason: undefined },
    { n: 0, neg: -0, big: 1e21, small: 5e-7, nan: Number.NaN, inf: Number.POSITIVE_INFINITY, yes: true, no: false, nothing: null },
    { count: 12n, error: new Error('it "broke"'), when: new Date('2026-01-01T00:00:00Z'), list: [1, 'two', null, undefined, 3n], nested: { a: { b: [new TypeError('x')] } } },
    { fn: () => 1, sym: Symbol('s'), gone: { toJSON: () => undefined }, shown: { toJSON: () => 'as text' } },
    { '10': 'ten', '2': 'two', b: 1, a: 2, 'with space': 'x', 'quote"key': 'y', 'é': 'accent' },
    { msg: 'a field named msg', other: 1 },
    { time: 'a field named time' },
    { command: 'overrides the base', extra: true },
    {},
  ];
  for (const fields of cases) log.info('request', fields);
  log.warn('no fields at all');
  t.deepEqual(lines, [...cases.map((fields) => expected(at, 'info', 'request', base, fields)), expected(at, 'warn', 'no fields at all', base, undefined)]);
  for (const line of lines) t.notThrows(() => JSON.parse(line));
});

test('a base that names time, level or msg, and child loggers, still write the record JSON.stringify writes', (t) => {
  const at = new Date('2026-03-02T10:00:00.000Z');
  const odd = capture({ base: { level: 'shadowed', command: 'x' }, now: () => at });
  odd.log.error('m', { a: 1 });
  t.deepEqual(odd.lines, [expected(at, 'error', 'm', { level: 'shadowed', command: 'x' }, { a: 1 })]);
  const parent = capture({ base: { command: 'serve' }, now: () => at });
  parent.log.child({ job: 'j', n: 2n }).info('child', { k: 'v' });
  t.deepEqual(parent.lines, [expected(at, 'info', 'child', { command: 'serve', job: 'j', n: 2n }, { k: 'v' })]);
});

test('records below the level are dropped', (t) => {
  const { log, lines } = capture();
  log.debug('hidden', { a: 1 });
  log.info('shown');
  t.is(lines.length, 1);
  t.like(JSON.parse(lines[0]!), { msg: 'shown', level: 'info' });
});

test('without a pinned clock, the time is the current time as Date#toISOString writes it', async (t) => {
  const { log, lines } = capture();
  const times: Array<[number, number]> = [];
  // Across second boundaries too: the clock reuses the text of the current second.
  for (let i = 0; i < 40; i++) {
    const before = Date.now();
    log.info('tick');
    times.push([before, Date.now()]);
    await new Promise((resolve) => setTimeout(resolve, 37));
  }
  lines.forEach((line, i) => {
    const time = (JSON.parse(line) as { time: string }).time;
    const ms = Date.parse(time);
    t.is(new Date(ms).toISOString(), time);
    t.true(ms >= times[i]![0] && ms <= times[i]![1], `${time} within the call`);
  });
});

test('a base with a key like an array index still gives the record JSON.stringify writes', (t) => {
  const at = new Date('2026-03-02T10:00:00.000Z');
  const { log, lines } = capture({ base: { command: 'x', '7': 'seven' }, now: () => at });
  log.info('m', { a: 1 });
  t.deepEqual(lines, [expected(at, 'info', 'm', { command: 'x', '7': 'seven' }, { a: 1 })]);
});

import { Readable } from 'node:stream';
import test from 'ava';
import { type JsonLine, maxLineBytes, readJsonLines } from '../src/input/json-lines.js';
import { duplicateKeyOrDepth } from '../src/input/json-shape.js';

async function read(chunks: Array<string | Buffer>, hint?: string): Promise<JsonLine[]> {
  const lines: JsonLine[] = [];
  for await (const line of readJsonLines(Readable.from(chunks.map((c) => (typeof c === 'string' ? Buffer.from(c) : c))), { tooLongHint: hint })) lines.push(line);
  return lines;
}

test('lines are numbered across chunks; blank lines skipped; CRLF and a BOM accepted', async (t) => {
  const lines = await read(['\ufeff{"a":', '1}\r\n\n  \n[2]\r', '\n"three"']);
  t.deepEqual(lines, [
    { line: 1, ok: true, value: { a: 1 } },
    { line: 4, ok: true, value: [2] },
    { line: 5, ok: true, value: 'three' },
  ]);
});

test('a bad line is reported by number and the good ones around it are kept', async (t) => {
  const bad = Buffer.concat([Buffer.from('{"ok":1}\n'), Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d, 0x0a]), Buffer.from('{"a":1,"a":2}\n{"ok":"\\u0000"}\n{"nul":"a\u0000b"}\nnot json\n{"ok":3}\n')]);
  const lines = await read([bad]);
  t.deepEqual(
    lines.map((l) => (l.ok ? `${l.line} ok` : `${l.line} ${l.error.replace(/:.*/, '')}`)),
    ['1 ok', '2 not valid UTF-8', '3 the key "a" appears twice in one object', '4 ok', '5 not valid JSON', '6 not valid JSON', '7 ok'],
  );
});

test('an overlong line is skipped without being held, with the hint, and reading goes on', async (t) => {
  const long = `{"x":"${'a'.repeat(maxLineBytes)}"}`;
  // Fed in small pieces, as a pipe would: the line never sits in memory whole.
  const pieces: string[] = [];
  for (let i = 0; i < long.length; i += 65_536) pieces.push(long.slice(i, i + 65_536));
  const lines = await read(['{"first":1}\n', ...pieces, '\n{"last":1}'], 'about 25,000 ids fit');
  t.deepEqual(lines, [
    { line: 1, ok: true, value: { first: 1 } },
    { line: 2, ok: false, error: 'line is longer than 2,000,000 bytes (about 25,000 ids fit); it was skipped' },
    { line: 3, ok: true, value: { last: 1 } },
  ]);
});

test('a signal stops reading; the lines read so far are kept', async (t) => {
  const controller = new AbortController();
  const input = new Readable({ read() {} });
  input.push('{"a":1}\n{"b":');
  const seen: JsonLine[] = [];
  const reading = (async () => {
    for await (const line of readJsonLines(input, { signal: controller.signal })) seen.push(line);
  })();
  await new Promise((resolve) => setTimeout(resolve, 50));
  controller.abort(new Error('received SIGTERM'));
  await reading;
  t.deepEqual(seen, [{ line: 1, ok: true, value: { a: 1 } }]);
});

test('duplicate keys and deep nesting are found at any level, strings are not mistaken for keys', (t) => {
  t.is(duplicateKeyOrDepth('{"a":{"b":1,"b":2}}'), 'the key "b" appears twice in one object');
  t.is(duplicateKeyOrDepth('{"a":"\\"a\\"","b":["a","a"],"c":{"a":1}}'), null);
  t.is(duplicateKeyOrDepth('{"\\u0061":1,"a":2}'), 'the key "a" appears twice in one object');
  t.is(duplicateKeyOrDepth(`${'['.repeat(33)}${']'.repeat(33)}`), 'nested deeper than 32 levels');
  t.is(duplicateKeyOrDepth(`${'['.repeat(32)}${']'.repeat(32)}`), null);
});

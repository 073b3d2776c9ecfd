import test from 'ava';
import { errorPattern, groupErrors, noErrorRecorded } from '../src/rescope/error-groups.js';

test('errors that differ only in ids or numbers are one group, largest first', (t) => {
  const groups = groupErrors([
    { error: 'storing content failed: duplicate key (user_id)=(0b6f4a52-8c1e-4d3b-9a0f-2b7c5d9e1f00) in row 17', rows: 3 },
    { error: 'storing content failed: duplicate key (user_id)=(AB6F4A52-8C1E-4D3B-9A0F-2B7C5D9E1F11) in row 2,100', rows: 2 },
    { error: 'lease of 600 s expired while processing (the worker crashed or was killed)', rows: 1 },
    { error: 'lease of 30 s expired while processing (the worker crashed or was killed)', rows: 1 },
    { error: 'computing content failed: utf8 decoding', rows: 4 },
    { error: null, rows: 1 },
  ]);
  t.deepEqual(groups, [
    { error: 'storing content failed: duplicate key (user_id)=(<id>) in row <n>', rows: 5 },
    { error: 'computing content failed: utf8 decoding', rows: 4 },
    { error: 'lease of <n> s expired while processing (the worker crashed or was killed)', rows: 2 },
    { error: noErrorRecorded, rows: 1 },
  ]);
});

test('different causes stay apart; words with digits in them are not numbers', (t) => {
  t.not(errorPattern('connection refused'), errorPattern('connection reset'));
  t.is(errorPattern('utf8 and sha256 stay, 42 goes, 3.5 goes'), 'utf8 and sha256 stay, <n> goes, <n> goes');
  t.is(errorPattern(''), noErrorRecorded);
  t.deepEqual(groupErrors([]), []);
});

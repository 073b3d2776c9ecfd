import test from 'ava';
import { randomUUID } from 'node:crypto';
import { defaultSessionSeconds, readSessionRecord, sessionSeconds, sessionUser, tokenFromAuthorization } from '../src/rescope/sessions.js';
import { isolatedRedis } from './helpers/redis.js';

test('tokenFromAuthorization takes exactly "Token <base64 text>"', (t) => {
  t.is(tokenFromAuthorization('Token abc+/XYZ09=='), 'abc+/XYZ09==');
  t.is(tokenFromAuthorization('token YWJj'), 'YWJj', 'the scheme is case-insensitive');
  for (const bad of [undefined, '', 'Token', 'Token ', 'Bearer YWJj', 'YWJj', 'Token a:b', 'Token a b', 'Token  YWJj', 'Token YWJj===', 'Token YW=Jj', `Token ${'a'.repeat(513)}`, 'Token YWJj\t']) {
    t.is(tokenFromAuthorization(bad), null, JSON.stringify(bad));
  }
});

test('a session record needs a UUID user_id; anonymous and non-JSON are no session', (t) => {
  const id = randomUUID();
  t.deepEqual(readSessionRecord(JSON.stringify({ user_id: id.toUpperCase(), username: 'x' })), { ok: true, userId: id, seconds: defaultSessionSeconds });
  t.deepEqual(readSessionRecord(JSON.stringify({ user_id: id, access_token_validity: 120 })), { ok: true, userId: id, seconds: 120 });
  t.like(readSessionRecord(JSON.stringify({ user_id: 'anonymous' })), { ok: false, reason: 'the session is anonymous' });
  t.like(readSessionRecord('not json'), { ok: false, reason: 'the session record is not JSON' });
  for (const raw of ['null', '"x"', '[]', '{}', JSON.stringify({ user_id: 42 }), JSON.stringify({ user_id: 'abc' })]) t.like(readSessionRecord(raw), { ok: false }, raw);
});

test('a session lives for its own access_token_validity when that is a positive whole number, else an hour', (t) => {
  t.is(sessionSeconds(86_400), 86_400);
  t.is(sessionSeconds('600'), 600);
  for (const v of [undefined, null, 0, -5, 1.5, 'abc', '', Number.MAX_VALUE]) t.is(sessionSeconds(v), 3600, String(v));
});

test('sessionUser reads <prefix><token> and extends the session (EXPIRE) only when it is valid', async (t) => {
  const redis = await isolatedRedis(t);
  const id = randomUUID();
  await redis.client.set(`${redis.prefix}tok1`, JSON.stringify({ user_id: id, access_token_validity: 7200 }), 'EX', 5);
  t.deepEqual(await sessionUser(redis.client, redis.prefix, 'tok1'), { ok: true, userId: id });
  const ttl = await redis.client.ttl(`${redis.prefix}tok1`);
  t.true(ttl > 7000 && ttl <= 7200, `TTL ${ttl}`);
  await redis.client.set(`${redis.prefix}tok2`, JSON.stringify({ user_id: id }));
  t.like(await sessionUser(redis.client, redis.prefix, 'tok2'), { ok: true });
  t.true((await redis.client.ttl(`${redis.prefix}tok2`)) > 3500, 'no validity: an hour, as the platform does');
  await redis.client.set(`${redis.prefix}anon`, JSON.stringify({ user_id: 'anonymous' }), 'EX', 5);
  t.like(await sessionUser(redis.client, redis.prefix, 'anon'), { ok: false });
  t.true((await redis.client.ttl(`${redis.prefix}anon`)) <= 5, 'an anonymous session is not extended');
  t.like(await sessionUser(redis.client, redis.prefix, 'missing'), { ok: false, reason: 'no session for this token (unknown or expired)' });
});

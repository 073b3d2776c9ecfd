/**
 * overdue-sync and notify-invalid at the same time (issue: a concurrent notify-invalid's
 * notification was removed or overwritten by the run in progress). The test hooks run
 * notify-invalid at the two points where it used to be lost: after the run's query (its
 * snapshot no longer sees the check being marked) and between the run's writes and its
 * removals.
 */
import type { ExecutionContext } from 'ava';
import { notifyInvalid } from '../src/notifications/check-invalid.js';
import { type OverdueSyncOptions, overdueSync } from '../src/notifications/overdue-sync.js';
import type { RedisClient } from '../src/redis/redis.js';
import { seedPupil, seedSchool } from '../src/seed/mtc-world.js';
import { eachTarget } from './helpers/databases.js';
import { type NotificationFixture, notificationFixture } from './helpers/notifications.js';
import { useRedisCluster } from './helpers/redis.js';

useRedisCluster();

const now = new Date('2026-03-02T10:00:00.000Z');
type HookPoint = keyof NonNullable<OverdueSyncOptions['hooks']>;
const hookPoints: HookPoint[] = ['afterQuery', 'beforeRemoval'];

/** Runs overdue-sync with notify-invalid for `checkCode` at `point`; returns the run's result. */
async function syncWithNotifyAt(f: NotificationFixture, point: HookPoint, checkCode: string) {
  let ran = false;
  const result = await overdueSync(f.db, f.redis.client, {
    ...f.options,
    now,
    hooks: {
      [point]: async () => {
        const r = await notifyInvalid(f.db, f.redis.client, [{ line: 1, checkCode }], { ...f.options, now });
        if (r.schools !== 1) throw new Error(`notify-invalid notified ${r.schools} schools`);
        ran = true;
      },
    },
  });
  if (!ran) throw new Error(`the ${point} hook was not called`);
  return result;
}

async function indexHas(f: NotificationFixture, school: string): Promise<boolean> {
  return (await f.redis.client.sismember(f.options.notificationIndexKey, school)) === 1;
}

for (const point of hookPoints) {
  for (const others of [0, 1]) {
    eachTarget(`notify-invalid at ${point} for a school that did not qualify at query time (${others} other schools): the entry survives the run, listed in the index`, async (t, target) => {
      const f = await notificationFixture(t, target);
      for (let i = 0; i < others; i++) await seedPupil(f.db, (await seedSchool(f.db)).id, { check: { loggedInMinutesAgo: 3000 } }, now);
      const school = await seedSchool(f.db);
      const pupil = await seedPupil(f.db, school.id, { check: { loggedInMinutesAgo: 5 } }, now);

      const result = await syncWithNotifyAt(f, point, pupil.checkCode);
      t.like(result, { schools: others });
      // Whether the school's entry counts as removed (and then restored from the journal)
      // depends on when the run lists the stale schools: on one server, in its final
      // transaction, after this notify-invalid; in a cluster, before the entries are written.
      t.true(result.removed <= 1, String(result.removed));
      t.deepEqual((await f.read(school.urlSlug))?.processingErrorPupilUUIDs, [pupil.urlSlug], 'the pupil is notified');
      t.true(await indexHas(f, school.urlSlug), 'the index lists the school, so a later run removes it when it stops qualifying');
      t.true((await f.redis.client.ttl(f.options.notificationIndexKey)) > 0, 'the index has a lifetime');
      await assertNoRunKeysLeft(t, f);

      // The next run sees the marked check itself.
      t.like(await overdueSync(f.db, f.redis.client, { ...f.options, now }), { schools: others + 1, removed: 0 });
      t.deepEqual((await f.read(school.urlSlug))?.processingErrorPupilUUIDs, [pupil.urlSlug]);
    });
  }

  eachTarget(`notify-invalid at ${point} for a school that qualified at query time: its pupil is not overwritten by the run's older snapshot`, async (t, target) => {
    const f = await notificationFixture(t, target);
    const school = await seedSchool(f.db);
    const overdue = await seedPupil(f.db, school.id, { check: { loggedInMinutesAgo: 3000 } }, now);
    const failing = await seedPupil(f.db, school.id, { check: { loggedInMinutesAgo: 5 } }, now);
    // An entry from an earlier run, so notify-invalid merges into it.
    t.like(await overdueSync(f.db, f.redis.client, { ...f.options, now }), { schools: 1 });

    t.like(await syncWithNotifyAt(f, point, failing.checkCode), { schools: 1, overdueChecks: 1, processingErrors: 0, removed: 0 });
    t.deepEqual(await f.read(school.urlSlug), {
      schoolUUID: school.urlSlug,
      dateTimeCreated: now.toISOString(),
      processingErrorPupilUUIDs: [failing.urlSlug],
      overdueChecksUUIDs: [overdue.checkCode],
    });
    t.true(await indexHas(f, school.urlSlug));
    await assertNoRunKeysLeft(t, f);
  });
}

eachTarget('overdue-sync holds its lock before its query starts: a notify-invalid that commits later always finds it', async (t, target) => {
  const f = await notificationFixture(t, target);
  const school = await seedSchool(f.db);
  await seedPupil(f.db, school.id, { check: { loggedInMinutesAgo: 3000 } }, now);
  let connected = false;
  // Redis "connects" late: the query must wait for the lock, however long that takes.
  const slowRedis = new Promise<RedisClient>((resolve) =>
    setTimeout(() => {
      connected = true;
      resolve(f.redis.client);
    }, 300),
  );
  let lockSeenByQuery: boolean | undefined;
  await overdueSync(f.db, slowRedis, {
    ...f.options,
    now,
    hooks: {
      afterQuery: async () => {
        lockSeenByQuery = connected && (await f.redis.client.exists(`${f.options.notificationIndexKey}:lock`)) === 1;
      },
    },
  });
  t.true(lockSeenByQuery);
});

eachTarget('while a run holds the lock, notify-invalid journals its merges for as long as the lock lives; a run that fails drops them', async (t, target) => {
  const f = await notificationFixture(t, target);
  const school = await seedSchool(f.db);
  const [a, b] = [await seedPupil(f.db, school.id, {}, now), await seedPupil(f.db, school.id, {}, now)];
  const index = f.options.notificationIndexKey;
  await f.redis.client.set(`${index}:lock`, 'another-run', 'PX', 60_000);
  await notifyInvalid(f.db, f.redis.client, [{ line: 1, checkCode: a.checkCode }, { line: 2, checkCode: b.checkCode }], { ...f.options, now });
  t.deepEqual(await f.redis.client.lrange(`${index}:journal`, 0, -1), [[school.urlSlug, a.urlSlug, b.urlSlug].join(' ')]);
  const journalLife = await f.redis.client.pttl(`${index}:journal`);
  t.true(journalLife > 0 && journalLife <= 60_000, String(journalLife));
  t.true(await indexHas(f, school.urlSlug));

  // A run of our own that fails after its query: its lock and the journal go, the entry stays.
  await f.redis.client.del(`${index}:lock`, `${index}:journal`);
  const c = await seedPupil(f.db, school.id, {}, now);
  const failing = overdueSync(f.db, f.redis.client, {
    ...f.options,
    now,
    hooks: {
      afterQuery: async () => {
        await notifyInvalid(f.db, f.redis.client, [{ line: 1, checkCode: c.checkCode }], { ...f.options, now });
        t.is(await f.redis.client.llen(`${index}:journal`), 1, 'journaled for the running overdue-sync');
        throw new Error('simulated failure after the query');
      },
    },
  });
  await t.throwsAsync(failing, { message: 'simulated failure after the query' });
  await assertNoRunKeysLeft(t, f);
  t.deepEqual((await f.read(school.urlSlug))?.processingErrorPupilUUIDs, [a.urlSlug, b.urlSlug, c.urlSlug].sort());
});

/** The run's lock, journal and "next" set are gone when it ends. */
async function assertNoRunKeysLeft(t: ExecutionContext, f: NotificationFixture): Promise<void> {
  const index = f.options.notificationIndexKey;
  for (const suffix of [':lock', ':journal', ':next']) t.is(await f.redis.client.exists(`${index}${suffix}`), 0, `${index}${suffix}`);
}

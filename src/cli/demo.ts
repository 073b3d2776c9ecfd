import { closeSync, existsSync, openSync, readFileSync, readSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { UsageError, errorMessage } from '../errors.js';
import type { DemoReport } from '../demo/demo.js';
import type { ShowOutcome } from '../rescope/show.js';
import type { SkippedContent } from '../rescope/skip-rule.js';
import { settingOrigin, withSettings } from '../config/load-config.js';
import { type Config, maskUrl } from '../config/settings.js';
import { createLogger } from '../log/logger.js';
import { readStoredNotification } from '../notifications/notification.js';
import { Runtime } from '../runtime.js';
import type { CommandSpec } from './command.js';
import { plural } from './options.js';

interface DemoOptions {
  file?: string;
}

/** Marks a database the demo made ('mtcd'), so a rerun only ever deletes its own file. */
export const demoApplicationId = 0x6d746364;

/** Marks the settings file the demo writes (config files may carry a "$comment"). */
const configMarkerKey = '$comment';
const configMarker = 'written by mtc-batch demo; the next demo run with the same --file replaces it';

export const demoCommand: CommandSpec<DemoOptions> = {
  name: 'demo',
  summary: 'try it in a minute: a fresh SQLite file, the local Redis, a small world, every job once',
  description:
    'Recreates an SQLite file (--file; only one an earlier demo made), removes the Redis keys an earlier run wrote ' +
    "(its bus, its sessions, its schools' notification entries and their index; no other key under demo:), migrates, " +
    'builds a small world (a course, classes, teachers and learners with competencies; schools with overdue, ' +
    'failed, fine, restarted and excused checks), then runs enqueue, dispatch, process, rescope-show, overdue-sync ' +
    'and notify-invalid once each, through the same code as the subcommands, and prints what happened and the ' +
    'commands to repeat each step by hand. Needs a Redis (REDIS_URL, default local).',
  settings: ['redisUrl', 'logFormat', 'logLevel'],
  configure(cmd) {
    cmd.option('--file <path>', 'the SQLite file to create (an earlier demo file is replaced)', './mtc-batch-demo.sqlite');
  },
  async run({ config, io }, opts) {
    const { clearDemoKeys, demoSettings, holdDemoLock, runDemo } = await import('../demo/demo.js');
    const file = opts.file ?? './mtc-batch-demo.sqlite';
    const configFile = demoConfigFile(file);
    const settings = demoSettings(file);
    const demoConfig = withSettings(config, settings);

    // What refuses the demo is checked first, without Redis (and again, to act on, once it
    // holds its run lock).
    checkEarlierDatabase(file);
    checkEarlierConfig(configFile);
    const jobLog = createLogger({ format: config.logFormat, level: config.logLevel === 'debug' ? 'debug' : 'warn', stream: io.stderr, base: { command: 'demo' } });
    const runtime = new Runtime(demoConfig, jobLog, { signal: io.signal, database: 'create' });
    let report: DemoReport;
    try {
      const redis = await runtime.redis();
      // One demo at a time against a Redis (its keys have fixed names), before any file
      // or key is touched.
      const release = await holdDemoLock(redis.client);
      try {
        const earlierDatabase = checkEarlierDatabase(file);
        checkEarlierConfig(configFile);
        if (earlierDatabase) for (const suffix of ['', '-wal', '-shm']) rmSync(`${file}${suffix}`, { force: true });
        await createMarkedDatabase(file);
        const db = await runtime.db();
        await clearDemoKeys(redis.client, demoConfig);
        report = await runDemo(db, redis.client, demoConfig, { log: jobLog });
      } finally {
        await release().catch(() => undefined);
      }
    } finally {
      await runtime.close();
    }
    // A password is never written into a file left lying in a checkout: without it the
    // commands below need the URL from the environment, and the note says so.
    const passwordless = maskUrl(config.redisUrl) === config.redisUrl;
    const saved = { [configMarkerKey]: configMarker, ...settings, ...(passwordless ? { redisUrl: config.redisUrl } : {}) };
    // Written under another name and renamed into place: a run killed while writing never
    // leaves a partial file, which the next demo would refuse as not its own.
    writeFileSync(`${configFile}.demo-new`, `${JSON.stringify(saved, null, 2)}\n`);
    renameSync(`${configFile}.demo-new`, configFile);
    return {
      result: summarise(report, file, configFile),
      human: narrate(report, file, configFile, maskUrl(config.redisUrl), redisNote(config, io.env, configFile, passwordless)),
    };
  },
};

/**
 * What the by-hand commands (all `--config <the demo's file>`) need besides that file to
 * reach the Redis the demo used, as lines to print above them; none when the file is
 * enough. The file names that Redis unless its URL holds a password; then the commands
 * must get the URL as the demo did, from REDIS_URL or the flag. REDIS_URL, when set,
 * overrides the file.
 */
function redisNote(config: Readonly<Config>, env: NodeJS.ProcessEnv, configFile: string, passwordless: boolean): string[] {
  const origin = settingOrigin(config, 'redisUrl');
  const masked = maskUrl(config.redisUrl);
  if (passwordless) {
    if (origin?.from === 'env' || env.REDIS_URL === undefined || env.REDIS_URL.trim() === config.redisUrl) return [];
    return [`REDIS_URL is set to another Redis in this shell and overrides the file: unset it for these commands, so they reach ${masked}`];
  }
  if (origin?.from === 'env') return [`REDIS_URL holds a password, which is not written in ${configFile}: keep REDIS_URL set for these commands`];
  return [
    `${origin ? `the Redis URL came from ${origin.where}` : 'the Redis URL'} and holds a password, which is not written in ${configFile}:`,
    `set REDIS_URL='${masked}' (with the password in place of ***) for these commands` +
      `${origin?.from === 'flag' ? `, or add the same ${origin.where} to each` : ''}, so they reach the same Redis`,
  ];
}

/** The settings file beside the database: `demo.sqlite` → `demo.json` (never the database itself). */
function demoConfigFile(file: string): string {
  const name = `${basename(file).replace(/\.[^.]*$/, '')}.json`;
  const beside = dirname(file) === '.' ? `./${name}` : join(dirname(file), name);
  return resolve(beside) === resolve(file) ? `${file}.json` : beside;
}

/**
 * True when `file` is an earlier demo's database (to be replaced); false when there is none.
 * The mark is read from the file's header, without SQLite: opening a WAL database (every
 * one mtc-batch makes is) creates or changes `-wal` and `-shm` beside it, even read-only,
 * so a refusal would not leave the files as they were. The demo creates its file with the
 * mark in the header (createMarkedDatabase), so the header always has it.
 */
function checkEarlierDatabase(file: string): boolean {
  if (!existsSync(file)) {
    // SQLite would replay a -wal it finds beside a new file into it: another database's.
    const orphan = ['-wal', '-shm'].map((suffix) => `${file}${suffix}`).find((path) => existsSync(path));
    if (orphan !== undefined) throw new UsageError(`${orphan} exists without ${file}: it is another database's (SQLite would read it into the demo's); give another --file, or remove it yourself`);
    return false;
  }
  let applicationId: number;
  try {
    applicationId = headerApplicationId(file);
  } catch (err) {
    throw new UsageError(`${file} exists and is not an SQLite database (${errorMessage(err)}): give another --file`);
  }
  if (applicationId !== demoApplicationId) {
    throw new UsageError(`${file} exists and was not made by mtc-batch demo: give another --file, or remove it yourself`);
  }
  return true;
}

/**
 * Creates `file` as an empty database that already carries the demo's mark: made under
 * another name and renamed into place, so no moment leaves an unmarked file there (one
 * the next demo would refuse to replace).
 */
async function createMarkedDatabase(file: string): Promise<void> {
  const { default: Sqlite } = await import('better-sqlite3');
  const making = `${file}.demo-new`;
  rmSync(making, { force: true });
  const db = new Sqlite(making);
  try {
    db.pragma(`application_id = ${demoApplicationId}`);
  } finally {
    db.close();
  }
  renameSync(making, file);
}

/** Every SQLite database file begins with these 16 bytes. */
const sqliteHeaderMagic = Buffer.from('SQLite format 3\0', 'latin1');

/**
 * The application id in an SQLite file's 100-byte header (a big-endian 32-bit integer at
 * offset 68, as PRAGMA application_id reads it), read without opening the database. An
 * empty file is an empty database to SQLite: id 0.
 */
function headerApplicationId(file: string): number {
  const fd = openSync(file, 'r');
  try {
    const header = Buffer.alloc(100);
    const read = readSync(fd, header, 0, header.length, 0);
    if (read === 0) return 0;
    if (read < header.length || !header.subarray(0, sqliteHeaderMagic.length).equals(sqliteHeaderMagic)) throw new Error('file is not a database');
    return header.readInt32BE(68);
  } finally {
    closeSync(fd);
  }
}

/** Refuses to overwrite a settings file an earlier demo did not write (it carries the marker). */
function checkEarlierConfig(configFile: string): void {
  if (!existsSync(configFile)) return;
  let marked = false;
  try {
    const parsed = JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown> | null;
    marked = parsed !== null && typeof parsed === 'object' && parsed[configMarkerKey] === configMarker;
  } catch {
    marked = false;
  }
  if (!marked) {
    throw new UsageError(`the demo writes its settings to ${configFile}, which exists and was not made by mtc-batch demo: give another --file, or move it away`);
  }
}

function nameOf(report: DemoReport, id: string): string {
  return report.world.names.get(id) ?? id;
}

/** "unit 1, lesson 2.1, item 2.2.1": whole units, then lessons outside them, then single items. */
function describeSkips(report: DemoReport, content: SkippedContent | null): string {
  if (!content) return 'not computed';
  const items = new Set([...content.assessments, ...content.collections, ...content.assessmentsExternal, ...content.collectionsExternal]);
  if (items.size === 0) return 'nothing yet';
  const units = new Set(content.units);
  const lessons = new Set(content.lessons);
  const parts: string[] = [];
  for (const unit of report.world.course.units) {
    if (units.has(unit.id)) {
      parts.push(nameOf(report, unit.id));
      continue;
    }
    for (const lesson of unit.lessons) {
      if (lessons.has(lesson.id)) parts.push(nameOf(report, lesson.id));
      else parts.push(...lesson.items.filter((item) => items.has(item)).map((item) => nameOf(report, item)));
    }
  }
  return `${parts.join(', ')} (${plural(items.size, 'item')} in all)`;
}

/** The outcome with the ids it mentions replaced by the world's names. */
function refusal(report: DemoReport, outcome: ShowOutcome): string {
  const text = 'reason' in outcome ? `${outcome.status}: ${outcome.reason}` : outcome.status;
  return text.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, (id) => nameOf(report, id));
}

/** What the admin app reads from a stored entry (unwrapped from MTC's cache envelope). */
function entryLists(value: string | null): { errors: string[]; overdue: string[] } | null {
  if (value === null) return null;
  const { notification } = readStoredNotification(value);
  return { errors: notification.processingErrorPupilUUIDs, overdue: notification.overdueChecksUUIDs };
}

function narrate(report: DemoReport, file: string, configFile: string, redisUrl: string, redisNote: string[]): string {
  const w = report.world;
  const { ada, ben, cat } = w.year5.learners;
  const n = (id: string) => nameOf(report, id);
  const lessons = w.course.units.reduce((sum, u) => sum + u.lessons.length, 0);
  const items = w.course.units.reduce((sum, u) => sum + u.lessons.reduce((s, l) => s + l.items.length, 0), 0);
  const e = report.enqueued;
  const lines = [
    `mtc-batch demo: a fresh ${file}, Redis keys under demo: on ${redisUrl}`,
    '',
    `Rescope: course "Fractions" (${w.course.units.length} units, ${lessons} lessons, ${items} items), class "${n(w.year5.id)}"`,
    `  enqueue   Ada and Ben join the class; its rescope setting changes; so does Year 6's (rescope off there)`,
    `            → queued ${plural(e.queued, 'learner')}, ${e.duplicates} already queued; ${e.rescopeOff.map((o) => n(o.classId)).join(', ')}: nothing queued`,
    `  dispatch  → ${plural(report.dispatched.dispatched, 'row')} published on the bus`,
    `  process   → ${plural(report.processed.processed, 'learner')} rescoped`,
    ...report.skips.map((s) => `  ${n(s.learner).padEnd(4)} may skip ${describeSkips(report, s.content)}`),
    `  rescope-show as ${n(w.year5.teacher)} gave the lines above; as Ben asking for Ada's:`,
    `            ${refusal(report, report.refused)}`,
    '',
    `Notifications: schools ${[w.schools.oak, w.schools.elm, w.schools.ash].map(n).join(', ')}`,
    `  overdue-sync → ${plural(report.synced.schools, 'school')} notified`,
  ];
  for (const { school, value } of report.notifications) {
    const lists = entryLists(value);
    if (!lists) lines.push(`    ${n(school)}: no entry (nothing to report)`);
    else {
      const what = [
        ...lists.overdue.map((code) => `overdue: ${n(code)}`),
        ...lists.errors.map((pupil) => `processing error: ${n(pupil)}`),
      ];
      lines.push(`    ${n(school)}: ${what.join('; ')}`);
    }
  }
  lines.push(`    (not listed at Oak: a received check, a pupil who restarted, a pupil with an attendance code)`);
  const stored = report.notifications.find((x) => x.value !== null)?.value;
  if (stored) {
    const format = readStoredNotification(stored).format;
    lines.push(
      format === 'mtc'
        ? `    (shown as the admin app reads them: each entry is stored in MTC's cache format, {"meta":{"type":"object"},"value":"<the notification's JSON text>"})`
        : '    (stored as bare JSON objects: MTC_BATCH_NOTIFICATION_FORMAT=plain)',
    );
  }
  const elm = entryLists(report.elmAfterInvalid);
  lines.push(`  notify-invalid (a checkInvalid message for ${n(w.pupils.invalidLater.urlSlug)}'s check) → Elm Primary lists ${elm?.errors.map(n).sort().join(' and ') ?? 'nobody'}`);
  const s = report.status;
  lines.push(
    '',
    `status: ${s.healthy ? 'healthy' : `not healthy (${s.problems.join('; ')})`}; ${s.queue.queued} queued, ${s.rescopedContent} rescoped, ` +
      `${'error' in s.redis ? '?' : (s.redis.notifications ?? '?')} school notifications`,
    '',
    `Each step by hand, against the same file (settings in ${configFile}):`,
    ...redisNote.map((line) => `  # ${line}`),
    `  npx mtc-batch status --config ${configFile}`,
    `  npx mtc-batch enqueue --config ${configFile} --source oob --class ${w.year5.id} --member ${cat} --override   # Cat has content: --override computes it again`,
    `  npx mtc-batch dispatch --config ${configFile} && npx mtc-batch process --config ${configFile}`,
    `  npx mtc-batch rescope-show --config ${configFile} --token demoTokenTeacher --course ${w.course.id} --class ${w.year5.id} --user ${ada}`,
    `  npx mtc-batch rescope-show --config ${configFile} --token demoTokenBen --course ${w.course.id} --class ${w.year5.id} --user ${ada}`,
    `  npx mtc-batch overdue-sync --config ${configFile} --dry-run`,
    `  echo '{"version":1,"checkCode":"${w.pupils.invalidLater.checkCode}","notificationType":"checkInvalid"}' | npx mtc-batch notify-invalid --config ${configFile} --jsonl -   # the same message again: a replay changes nothing`,
    `(learner ids: Ada ${ada}, Ben ${ben}, Cat ${cat}; the demo's session tokens last an hour)`,
  );
  return lines.join('\n');
}

function summarise(report: DemoReport, file: string, configFile: string): Record<string, unknown> {
  const n = (id: string) => nameOf(report, id);
  return {
    file,
    configFile,
    enqueued: { queued: report.enqueued.queued, duplicates: report.enqueued.duplicates, rescopeOff: report.enqueued.rescopeOff.length },
    dispatched: report.dispatched.dispatched,
    processed: report.processed.processed,
    skips: Object.fromEntries(report.skips.map((s) => [n(s.learner), s.content])),
    refused: report.refused,
    notifications: Object.fromEntries(report.notifications.map(({ school, value }) => [n(school), value === null ? null : readStoredNotification(value).notification])),
    notifyInvalid: { handled: report.invalid.handled, schools: report.invalid.schools },
    healthy: report.status.healthy,
  };
}

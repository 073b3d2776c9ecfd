import { ExitCode, UsageError } from '../errors.js';
import type { CheckInvalidInput } from '../notifications/check-invalid.js';
import type { CommandSpec } from './command.js';
import { interruption } from './interrupted.js';
import { plural, uuidOption } from './options.js';

interface NotifyInvalidCommandOptions {
  jsonl?: string;
  checkCode?: string[];
}

/** Messages handled together: one database round trip and one Redis round trip each. */
const messagesPerGroup = 1_000;

export const notifyInvalidCommand: CommandSpec<NotifyInvalidCommandOptions> = {
  name: 'notify-invalid',
  summary: 'handle checkInvalid messages: mark the checks failed and add the pupils to their schools\' notifications',
  description:
    'Reads messages {"version":1,"checkCode":"<uuid>","notificationType":"checkInvalid"} as JSON lines (--jsonl), ' +
    'or check codes given by an operator (--check-code). Marks each check processingFailed where it is not already ' +
    '(replaying changes nothing), and adds the pupil to the school\'s notification atomically in Redis, creating it ' +
    'if absent and refreshing its TTL; a check that is no longer the pupil\'s current one, or a pupil with an ' +
    'attendance code, gets no notification. Bad or unknown messages are reported by line and the rest handled (exit 6).',
  settings: ['notificationTtlSeconds', 'notificationPrefix', 'notificationIndexKey', 'notificationFormat', 'databaseUrl', 'databaseSchema', 'redisUrl', 'logFormat', 'logLevel'],
  configure(cmd) {
    cmd
      .option('--jsonl <file|->', 'read messages as JSON lines from a file, or - for stdin')
      .option('--check-code <uuid...>', 'check codes to mark as failed processing (for an operator)');
  },
  async run({ runtime, config, log, io, showProgress }, opts) {
    if ((opts.jsonl === undefined) === (opts.checkCode === undefined)) {
      throw new UsageError('give either --jsonl <file|-> or --check-code <uuid> ..., not both and not neither');
    }
    const [{ inGroups, openJsonLines, readJsonLines }, { createProgress }, { parseCheckInvalidMessage }, { NotifyInvalidTotals, notifyInvalidBatch }] = await Promise.all([
      import('../input/json-lines.js'),
      import('../log/progress.js'),
      import('../notifications/check-invalid-message.js'),
      import('../notifications/check-invalid.js'),
    ]);
    const options = { ...config, log };
    let stopped: ReturnType<typeof interruption> = null;
    // Schools and pupils are counted once over the whole run, not summed over the groups.
    const totals = new NotifyInvalidTotals();

    if (opts.checkCode !== undefined) {
      // Ids typed by an operator: a bad one is a usage error before anything is done (as
      // in rescope-show), not a rejected message among good ones.
      const inputs: CheckInvalidInput[] = opts.checkCode.map((code) => ({ line: null, checkCode: uuidOption(code, '--check-code')! }));
      const [db, redis] = await runtime.both();
      totals.add(await notifyInvalidBatch(db, redis.client, inputs, options));
    } else {
      const { input } = await openJsonLines(opts.jsonl!, io.stdin, '--jsonl');
      const [db, redis] = await runtime.both();
      log.debug(`reading messages from --jsonl ${opts.jsonl}`);
      let lastLine = 0;
      const progress = createProgress({ label: 'notify-invalid', unit: 'messages', total: null, stream: io.stderr, enabled: showProgress });
      try {
        for await (const group of inGroups(readJsonLines(input, { signal: io.signal, name: `--jsonl ${opts.jsonl}` }), messagesPerGroup)) {
          const inputs: CheckInvalidInput[] = [];
          for (const entry of group) {
            const parsed = entry.ok ? parseCheckInvalidMessage(entry.value) : entry;
            if (parsed.ok) inputs.push({ line: entry.line, checkCode: parsed.checkCode });
            else totals.rejected.push({ line: entry.line, error: parsed.error });
          }
          if (inputs.length > 0) totals.add(await notifyInvalidBatch(db, redis.client, inputs, options));
          lastLine = group[group.length - 1]!.line;
          progress.advance(group.length);
        }
      } finally {
        progress.stop();
      }
      stopped = interruption(io.signal, lastLine);
    }
    const total = totals.result();
    total.rejected.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
    for (const r of total.rejected) log.warn(r.line === null ? r.error : `line ${r.line}: ${r.error}`);
    const lines = [
      `handled ${plural(total.handled, 'message')}: ${plural(total.pupils, 'pupil')} in ${plural(total.schools, 'school notification')}` +
        (total.notCurrent > 0 ? `; ${total.notCurrent} no longer current (restarted or attendance code), marked failed but not notified` : ''),
    ];
    if (total.rejected.length > 0) {
      lines.push(`rejected ${plural(total.rejected.length, 'message')}:`);
      for (const r of total.rejected) lines.push(`  ${r.line === null ? '' : `line ${r.line}: `}${r.error}`);
    }
    if (stopped) lines.push(stopped.message);
    return {
      exitCode: stopped ? ExitCode.failure : total.rejected.length > 0 ? ExitCode.partial : ExitCode.ok,
      result: {
        handled: total.handled,
        schools: total.schools,
        pupils: total.pupils,
        notCurrent: total.notCurrent,
        rejected: total.rejected,
        ...(stopped ? { interruptedAfterLine: stopped.afterLine } : {}),
      },
      human: lines.join('\n'),
    };
  },
};

/** The one commander program; each subcommand is registered here once it exists. */
import { Command } from 'commander';
import { type CommandIO, type CommandSpec, addCommand, askedLogFormat } from './command.js';
import { setNoticeFormatBeforeLog } from '../log/notice.js';
import type { ExitCodeValue } from '../errors.js';
import { environmentHelp } from './help.js';
import { demoCommand } from './demo.js';
import { dispatchCommand } from './dispatch.js';
import { discardFailedCommand } from './discard-failed.js';
import { enqueueCommand } from './enqueue.js';
import { failedCommand } from './failed.js';
import { migrateCommand } from './migrate.js';
import { notifyInvalidCommand } from './notify-invalid.js';
import { overdueSyncCommand } from './overdue-sync.js';
import { processCommand } from './process.js';
import { rescopeShowCommand } from './rescope-show.js';
import { retryFailedCommand } from './retry-failed.js';
import { serveCommand } from './serve.js';
import { statusCommand } from './status.js';
import { version } from './version.js';

// Each spec has its own options type; the list only needs what addCommand reads.
export const commands: ReadonlyArray<CommandSpec<never>> = [migrateCommand, enqueueCommand, dispatchCommand, processCommand, rescopeShowCommand, serveCommand, overdueSyncCommand, notifyInvalidCommand, statusCommand, failedCommand, retryFailedCommand, discardFailedCommand, demoCommand] as ReadonlyArray<CommandSpec<never>>;

const helpHint = '(run with --help for usage)';

/**
 * Before any command only --help and --version exist: an unknown option there is most
 * likely one of the commands' (--json, --config, a setting) put before the command's name.
 */
export function beforeCommandHint(message: string): string {
  return message.replace(/(unknown option '[^']+')/, '$1: options go after the command, e.g. "mtc-batch status --json"');
}

/**
 * The log format a usage error is written in: it comes before the settings are read, so
 * from --log-format or MTC_BATCH_LOG_FORMAT when given, else as "auto" decides (JSON
 * lines unless stderr is a terminal), as the command's log would be.
 */
function usageErrorsAsJson(io: CommandIO, rawArgs: readonly string[]): boolean {
  let flag: string | undefined;
  for (let i = 0; i < rawArgs.length; i++) {
    if (rawArgs[i] === '--log-format') flag = rawArgs[i + 1];
    else if (rawArgs[i]!.startsWith('--log-format=')) flag = rawArgs[i]!.slice('--log-format='.length);
  }
  const format = askedLogFormat(flag, io.env);
  return format === 'auto' ? (io.stderr as { isTTY?: boolean }).isTTY !== true : format === 'json';
}

export function createProgram(io: CommandIO, setExit: (code: ExitCodeValue) => void, argv: readonly string[] = []): Command {
  const program = new Command('mtc-batch');
  const asJson = usageErrorsAsJson(io, argv);
  if (io.stderr === process.stderr) setNoticeFormatBeforeLog(asJson);
  const output = {
    writeOut: (s: string) => io.stdout.write(s),
    // In JSON the hint is part of the error's record (below), not a line of its own.
    writeErr: (s: string) => (s === `${helpHint}\n` && asJson ? true : io.stderr.write(s)),
    outputError: (s: string, write: (s: string) => void) => {
      if (!asJson) return write(s);
      const msg = `${s.trim().replace(/^error: /, '')} ${helpHint}`;
      io.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'error', msg, exitCode: 2 })}\n`);
    },
  };
  const programOutput = { ...output, outputError: (s: string, write: (s: string) => void) => output.outputError(beforeCommandHint(s), write) };
  program
    .description('One-shot batch jobs for the rescope queue and school home-page notifications.')
    .version(version, '-V, --version')
    .showHelpAfterError(helpHint)
    .addHelpText('after', environmentHelp())
    .configureOutput(programOutput)
    .exitOverride();
  for (const spec of commands) addCommand(program, spec, io, setExit).exitOverride().configureOutput(output);
  return program;
}

/**
 * What the `mtc-batch` executable does around `run`: turns SIGTERM/SIGINT/SIGHUP into an abort
 * signal commands can honour, sets the exit code, and makes sure the process ends even
 * if some handle was left open (a CronJob that hangs is worse than one that fails).
 */
import { writeSync } from 'node:fs';
import { ExitCode, errorMessage } from '../errors.js';
import { notice, outputWasLost, reportOutputLost } from '../log/notice.js';
import { processIO, run } from './main.js';

const stopSignals: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];

/** How long a finished command may take to let go of its handles before the watchdog exits. */
const exitGraceMs = 3_000;

/**
 * After a stop signal, the process ends within this long whatever a command is doing: a
 * Kubernetes pod gets 30 s before SIGKILL, and work not finished is recovered by its lease.
 */
const stopDeadlineMs = 24_000;

/** The command's arguments, before any `--`. */
function commandArgs(): string[] {
  const args = process.argv.slice(2);
  const end = args.indexOf('--');
  return end === -1 ? args : args.slice(0, end);
}

/** Says `message` in the log's format and, under --json, as the one object stdout promises. */
function fail(code: string, message: string, exitCode: number): void {
  notice('error', message);
  if (commandArgs().includes('--json')) writeSync(1, `${JSON.stringify({ error: { code, message, exitCode } })}\n`);
}

/** What stopping the command at once leaves behind, in its own terms. */
function leftBehind(): string {
  const command = commandArgs().find((arg) => !arg.startsWith('-'));
  switch (command) {
    case 'process':
    case 'dispatch':
      return 'unfinished rows return to the queue when their lease expires';
    case 'overdue-sync':
      return 'its run lock stays until it expires (overdueSyncLockSeconds), runs meanwhile are skipped, and the next run repairs whatever this one left';
    case 'notify-invalid':
      return 'messages of the batch in progress may be marked but not notified: give the same input again (a replay is harmless)';
    case 'serve':
      return 'requests in flight were cut off';
    default:
      return 'nothing was left half-done that the next run does not redo';
  }
}

/**
 * Ends the process at once after a stop signal (128 + the signal's number, as a shell
 * reports it), saying why on stderr and, under --json, in the one object stdout promises.
 */
function exitNow(name: NodeJS.Signals, message: string): never {
  const exitCode = name === 'SIGINT' ? 130 : name === 'SIGHUP' ? 129 : 143;
  fail('interrupted', message, exitCode);
  process.exit(exitCode);
}

export async function main(): Promise<void> {
  const controller = new AbortController();
  let signals = 0;
  const onSignal = (name: NodeJS.Signals) => {
    signals++;
    if (signals === 1) {
      notice('warn', `received ${name}: stopping after the current work (send again to exit now)`);
      controller.abort(new Error(`received ${name}`));
      setTimeout(() => {
        exitNow(name, `still busy ${stopDeadlineMs / 1000} s after ${name}: exiting now; ${leftBehind()}`);
      }, stopDeadlineMs).unref();
    } else {
      exitNow(name, `received ${name} again: exiting now; ${leftBehind()}`);
    }
  };
  // SIGHUP (the terminal went away, or someone expecting a reload): a stop like the others,
  // said in the log, rather than Node's silent default exit.
  for (const name of stopSignals) process.on(name, onSignal);
  // `mtc-batch status | head -1`: a reader that goes away early is not the command's
  // failure, and must not become an unhandled 'error' event with a stack trace. Any other
  // failure to write the output (a full disk) is: said once, in the log's format, exit 1.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') return;
    process.exitCode = ExitCode.failure;
    reportOutputLost(err);
  });
  process.stderr.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') process.exitCode = ExitCode.failure;
  });

  // A command left waiting on something that will never answer, with nothing else to do
  // (ioredis's cluster client facing a failing cluster neither connects nor fails): Node
  // would end with exit code 0 and not a word. It fails instead, saying so.
  let settled = false;
  process.once('beforeExit', () => {
    if (settled) return;
    fail('stranded', 'the command stopped with its work unfinished: it was waiting for an answer (from Redis or the database) that can no longer come; nothing more was done', ExitCode.failure);
    process.exitCode = ExitCode.failure;
  });
  // A library's promise that fails with nothing to handle it, or an exception thrown
  // outside any command's own handling: Node would print the error with its properties
  // (ioredis's failed AUTH carries the password among its command's arguments) and a line
  // of the bundle's source, and exit 1. Said in the log's format instead, by its message
  // only; once the command has finished, its result stands and this is a warning.
  const outside = (err: unknown) => {
    if (process.env.DEBUG) process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    if (settled) {
      notice('warn', `after the command finished, a library reported: ${errorMessage(err)} (ignored)`);
      return;
    }
    fail('unexpected', `unexpected failure outside the command's own handling: ${errorMessage(err)}`, ExitCode.failure);
    process.exit(ExitCode.failure);
  };
  process.on('unhandledRejection', outside);
  process.on('uncaughtException', outside);
  let code: number;
  try {
    code = await run(process.argv, processIO(controller.signal));
  } catch (err) {
    process.stderr.write(`mtc-batch: unexpected failure: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    code = ExitCode.failure;
  }
  settled = true;
  if (outputWasLost()) code = ExitCode.failure;
  process.exitCode = code;
  for (const name of stopSignals) process.off(name, onSignal);
  setTimeout(() => {
    process.stderr.write(`mtc-batch: a connection or timer was still open ${exitGraceMs} ms after the command finished; exiting with code ${code}\n`);
    process.exit(code);
  }, exitGraceMs).unref();
}

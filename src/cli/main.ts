/**
 * Entry point: parse, run one command, return its exit code. No command calls
 * process.exit; the bin script sets the exit code and the watchdog.
 */
import { CommanderError } from 'commander';
import { ExitCode, type ExitCodeValue } from '../errors.js';
import { type CommandIO } from './command.js';
import { beforeCommandHint, createProgram } from './program.js';

export type { CommandIO } from './command.js';

export function processIO(signal?: AbortSignal): CommandIO {
  return { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env, signal };
}

/** Runs the CLI with `argv` (as in process.argv: node, script, args...) and returns the exit code. */
export async function run(argv: string[], io: CommandIO = processIO()): Promise<ExitCodeValue> {
  let exitCode: ExitCodeValue = ExitCode.ok;
  const program = createProgram(
    io,
    (code) => {
      exitCode = code;
    },
    argv,
  );
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (!(err instanceof CommanderError)) throw err;
    // Help and version are successes; every other parse error is a usage error. Commander
    // has already printed its message on stderr.
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || (err.code === 'commander.help' && err.exitCode === 0)) {
      return ExitCode.ok;
    }
    if (err.code === 'commander.help') {
      // No command given: the help went to stderr, and running nothing is not a success
      // (a cron line whose command came from an empty variable must not pass silently).
      io.stderr.write('mtc-batch: say which command to run (listed above)\n');
    }
    if (argv.includes('--json')) {
      // An option first, before any command's name: the program's own error.
      const message = err.message.replace(/^error: /, '');
      const beforeCommand = argv[2]?.startsWith('-') === true;
      io.stdout.write(`${JSON.stringify({ error: { code: 'usage', message: beforeCommand ? beforeCommandHint(message) : message, exitCode: ExitCode.usage } })}\n`);
    }
    return ExitCode.usage;
  }
  return exitCode;
}

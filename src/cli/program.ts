/** The one commander program; each subcommand is registered here once it exists. */
import { Command } from 'commander';
import { type CommandIO, type CommandSpec, addCommand } from './command.js';
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

export function createProgram(io: CommandIO, setExit: (code: ExitCodeValue) => void): Command {
  const program = new Command('mtc-batch')
    .description('One-shot batch jobs for the rescope queue and school home-page notifications.')
    .version(version, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', environmentHelp())
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
    .exitOverride();
  for (const spec of commands) {
    addCommand(program, spec, io, setExit).exitOverride().configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    });
  }
  return program;
}

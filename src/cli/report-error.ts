import { ExitCode, type ExitCodeValue, MtcError, errorMessage } from '../errors.js';
import type { Logger } from '../log/logger.js';

export interface ReportTarget {
  json: boolean;
  log: Logger;
  io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream; env: NodeJS.ProcessEnv };
}

/**
 * The one place an error becomes output and an exit code: one clear line on stderr, the
 * stack (with causes) only when DEBUG is set, and with --json an `{"error":…}` object on
 * stdout so a script always gets exactly one JSON object.
 */
export function reportError(err: unknown, { json, log, io }: ReportTarget): ExitCodeValue {
  const known = err instanceof MtcError;
  const exitCode = known ? err.exitCode : ExitCode.failure;
  const message = known ? err.message : `unexpected failure: ${errorMessage(err)}`;
  const debug = Boolean(io.env.DEBUG);
  log.error(message, known ? err.details : debug ? {} : { hint: 'set DEBUG=1 to see the stack trace' });
  if (debug) io.stderr.write(`${stackWithCauses(err)}\n`);
  if (json) {
    const error = { code: known ? err.code : 'unexpected', message, exitCode, ...(known ? err.details : {}) };
    io.stdout.write(`${JSON.stringify({ error })}\n`);
  }
  return exitCode;
}

function stackWithCauses(err: unknown): string {
  const parts: string[] = [];
  let current: unknown = err;
  for (let depth = 0; current !== undefined && depth < 5; depth++) {
    parts.push(current instanceof Error ? (current.stack ?? current.message) : String(current));
    current = current instanceof Error ? current.cause : undefined;
    if (current !== undefined) parts.push('caused by:');
  }
  return parts.join('\n');
}

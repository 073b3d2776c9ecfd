/**
 * Lines the process writes outside a command's own code (a stop signal received, the
 * forced exit after it) go through the running command's logger, so a JSON-lines log
 * stays JSON lines. Before a command has its logger they take the format asked for usage
 * errors (flag or environment), plain text by default.
 */
import type { Logger } from './logger.js';

let active: Logger | undefined;

export function setActiveLog(log: Logger | undefined): void {
  active = log;
}

let beforeLogJson = false;

/** Before a command has its logger: write notices as JSON lines (the format asked for usage errors). */
export function setNoticeFormatBeforeLog(json: boolean): void {
  beforeLogJson = json;
}

export function notice(level: 'warn' | 'error', message: string): void {
  if (active) active[level](message);
  else if (beforeLogJson) process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, msg: message })}\n`);
  else process.stderr.write(`mtc-batch: ${message}\n`);
}

let outputLost = false;

/**
 * Says once, whoever notices it first (the command waiting for its write, or the stream's
 * 'error' event), that the command's output could not be written to stdout (a full disk):
 * through `log` when given, else as a notice. Marks the output lost (see outputWasLost).
 */
export function reportOutputLost(err: NodeJS.ErrnoException, log?: Logger): void {
  if (outputLost) return;
  outputLost = true;
  const message = `could not write the command's output to stdout (${err.code ?? err.message}): the output is lost; exit code 1`;
  if (log) log.error(message);
  else notice('error', message);
}

export function outputWasLost(): boolean {
  return outputLost;
}

/**
 * Lines the process writes outside a command's own code (a stop signal received, the
 * forced exit after it) go through the running command's logger, so a JSON-lines log
 * stays JSON lines. Before a command has its logger they are plain text.
 */
import type { Logger } from './logger.js';

let active: Logger | undefined;

export function setActiveLog(log: Logger | undefined): void {
  active = log;
}

export function notice(level: 'warn' | 'error', message: string): void {
  if (active) active[level](message);
  else process.stderr.write(`mtc-batch: ${message}\n`);
}

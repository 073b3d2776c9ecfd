/**
 * Libraries speak on stderr by themselves: ioredis through console.warn ("[WARN] … does
 * not require a password"), pg and Node through process warnings (sslmode aliases, a TLS
 * server name that is an IP address). Left alone, those are plain-text lines in the middle
 * of a JSON-lines log; routed here, each is one warning record in the command's format.
 */
import { format } from 'node:util';
import type { Logger } from './logger.js';

export function routeLibraryWarnings(log: Logger): void {
  console.warn = (...args: unknown[]) => log.warn(format(...args).replace(/^\[WARN\] /, ''), { from: 'library' });
  // Node's own listener prints warnings as text; this one replaces it.
  process.removeAllListeners('warning');
  process.on('warning', (warning) => log.warn(warning.message.replace(/\s+/g, ' ').trim(), { from: 'node', warning: warning.name }));
}

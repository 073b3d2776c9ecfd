/**
 * How fast this machine runs right now, two ways, printed at the start and the end of a
 * benchmark so figures from different days, or from a machine busy with something else,
 * can be told apart from a change in the code:
 *
 * - CPU: SHA-256 over 64 MiB, timed (native code, so the figure does not depend on when
 *   V8 optimises a loop: a plain JavaScript loop timed the same way gave 30 ms in one
 *   process and 470 ms in the next on an idle machine).
 * - Fresh memory: the cost of the first touch of a page, over 64 MiB a process has just
 *   mapped. Every process start, every PostgreSQL parallel worker and every growth of a
 *   heap pays it. On most machines it is well under a microsecond; on a virtual machine
 *   whose host hands back its guests' free memory it has been measured at 10 µs and more,
 *   which by itself doubled a command's start-up (12,000 first touches from the snapshot).
 */
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';

const size = 64 * 1024 * 1024;
const pageSize = 4096;

export function machineSpeedMs(): number {
  const data = Buffer.alloc(size, 7);
  const started = performance.now();
  createHash('sha256').update(data).digest();
  return Math.round(performance.now() - started);
}

/**
 * Microseconds per first touch of a 4 KiB page: filling fresh memory, less filling the
 * same memory again (the writes themselves).
 */
export function firstTouchMicroseconds(): number {
  const fresh = Buffer.allocUnsafeSlow(size); // mapped, not yet touched
  const first = performance.now();
  fresh.fill(1);
  const firstMs = performance.now() - first;
  const again = performance.now();
  fresh.fill(2);
  const againMs = performance.now() - again;
  return Math.max(0, ((firstMs - againMs) * 1000) / (size / pageSize));
}

export function machineSpeedLine(when: string): string {
  return (
    `machine speed (${when}): SHA-256 of 64 MiB in ${machineSpeedMs()} ms (39-45 ms on this machine, idle); ` +
    `first touch of a fresh page ${firstTouchMicroseconds().toFixed(2)} µs`
  );
}

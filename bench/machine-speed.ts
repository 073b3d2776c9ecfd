/**
 * How fast this machine's CPU runs right now: SHA-256 over 64 MiB, timed (native code,
 * so the figure does not depend on when V8 optimises a loop: a plain JavaScript loop
 * timed the same way gave 30 ms in one process and 470 ms in the next on an idle
 * machine). Printed at the start and the end of a benchmark, so figures from different
 * days, or from a machine busy with something else, can be told apart from a change in
 * the code.
 */
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';

export function machineSpeedMs(): number {
  const data = Buffer.alloc(64 * 1024 * 1024, 7);
  const started = performance.now();
  createHash('sha256').update(data).digest();
  return Math.round(performance.now() - started);
}

export function machineSpeedLine(when: string): string {
  return `machine speed (${when}): SHA-256 of 64 MiB in ${machineSpeedMs()} ms (39-41 ms on this machine, idle)`;
}

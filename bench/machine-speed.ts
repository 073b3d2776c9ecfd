/**
 * How fast this machine's CPU runs right now: a fixed loop of integer additions, timed.
 * On a shared virtual machine the same loop has taken 30-60 ms in one minute and 460-480 ms
 * in the next (the host holds its CPU back), and every figure a benchmark prints moves with it. Printed at the start and
 * the end of a benchmark, so a reader can tell a slow run from a slow machine.
 */
import { performance } from 'node:perf_hooks';

export function machineSpeedMs(): number {
  let sum = 0;
  const started = performance.now();
  for (let i = 0; i < 100_000_000; i++) sum = (sum + i) | 0;
  const ms = performance.now() - started;
  // Used, so the loop cannot be dropped as dead code.
  if (sum === 1) console.log('');
  return Math.round(ms);
}

export function machineSpeedLine(when: string): string {
  return `machine speed (${when}): ${machineSpeedMs()} ms for 10^8 integer additions (30-60 ms on this machine at full speed, 460-480 when the host holds it back)`;
}

/**
 * Progress bars on stderr, only on a terminal and never in JSON mode (a log collector or
 * a script reading --json output must not get bar redraws).
 */
import { createRequire } from 'node:module';
import type * as CliProgress from 'cli-progress';

// Loaded only when a bar is drawn: most runs (cron, --json, pipes) never draw one.
const requireModule = createRequire(import.meta.url);

export interface Progress {
  /** Adds `n` to the count. */
  advance(n: number): void;
  /** Sets the count. */
  setValue(n: number): void;
  /** Sets or changes the expected total (null: unknown). */
  setTotal(total: number | null): void;
  stop(): void;
}

const noProgress: Progress = { advance: () => undefined, setValue: () => undefined, setTotal: () => undefined, stop: () => undefined };

export interface ProgressOptions {
  label: string;
  /** What is counted, e.g. "rows". */
  unit: string;
  total: number | null;
  stream: NodeJS.WritableStream & { isTTY?: boolean };
  /** RunContext.showProgress: false gives a progress that draws nothing. */
  enabled: boolean;
}

export function createProgress(options: ProgressOptions): Progress {
  if (!options.enabled || !options.stream.isTTY) return noProgress;
  const cliProgress = requireModule('cli-progress') as typeof CliProgress;
  let total = options.total;
  const format = () =>
    total === null
      ? `${options.label} {value} ${options.unit} | {duration_formatted}`
      : `${options.label} [{bar}] {percentage}% | {value}/{total} ${options.unit} | eta {eta_formatted}`;
  const bar = new cliProgress.SingleBar(
    { format: format(), stream: options.stream as NodeJS.WritableStream, hideCursor: true, clearOnComplete: false, etaBuffer: 50 },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total ?? 0, 0);
  let value = 0;
  return {
    advance(n) {
      this.setValue(value + n);
    },
    setValue(n) {
      value = n;
      if (total !== null && value > total) bar.setTotal((total = value));
      bar.update(value);
    },
    setTotal(next) {
      total = next;
      bar.setTotal(next ?? 0);
      bar.update(value);
    },
    stop: () => bar.stop(),
  };
}

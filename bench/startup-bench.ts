/**
 * Start-up of a one-shot command: `mtc-batch process` on an empty bus against PostgreSQL,
 * spawned and timed from process start to exit, the way a CronJob tick pays it. Side by
 * side in one run, rounds interleaved so a slow spell hits all of them alike:
 *
 *   - the shipped launcher run as a program (bin/mtc-batch → Node started from the
 *     start-up snapshot in dist/snapshot);
 *   - the same with GLIBC_TUNABLES set empty, so malloc gets no transparent huge pages
 *     (what the launcher asks for by default);
 *   - `node bin/mtc-batch`: the esbuild bundle in dist/bundle (what ran before the
 *     snapshot, and what the launcher falls back to);
 *   - the same program loaded module by module from dist/src (what ran before the bundle);
 *   - `node -e 0`, the floor no command can go under on this machine.
 *
 * Also prints each one's CPU time (user + system, from /proc), steadier than wall time on
 * a shared machine, and its first touches of fresh memory (minor page faults), which cost
 * far more on some virtual machines than on others (the probe printed before and after).
 *
 * Run: npm run bench:startup
 * Env: MTC_BATCH_BENCH_POSTGRES_URL, MTC_BATCH_BENCH_ROUNDS (default 21).
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { openDatabase } from '../src/db/database.js';
import { migrate } from '../src/db/migrate.js';
import { machineSpeedLine } from './machine-speed.js';

const pgUrl = process.env.MTC_BATCH_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const rounds = Number(process.env.MTC_BATCH_BENCH_ROUNDS ?? 21);
const schema = 'mtc_bench_startup';
const bin = fileURLToPath(new URL('../../bin/mtc-batch', import.meta.url));
const unbundled = join(tmpdir(), 'mtc-batch-unbundled.mjs');
writeFileSync(unbundled, `import(${JSON.stringify(new URL('../src/cli/bin-main.js', import.meta.url).href)}).then((m) => m.main());\n`);

const env = {
  PATH: process.env.PATH ?? '',
  DATABASE_URL: pgUrl,
  MTC_BATCH_DATABASE_SCHEMA: schema,
  MTC_BATCH_BUS_KEY: 'mtc-batch:bench:startup:bus',
  MTC_BATCH_LOG_LEVEL: 'warn',
};

interface Sample {
  wallMs: number;
  cpuMs: number;
  faults: number;
}

interface Variant {
  label: string;
  args: string[];
  env?: Record<string, string>;
}

/** Runs `args` (with node, unless the first is the launcher), timing wall clock from spawn to exit. */
function timed({ args, env: extra }: Variant): Promise<Pick<Sample, 'wallMs'>> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    // 'exit' below comes after the child was reaped, so its CPU is counted by then.
    const [file, rest] = args[0] === bin ? [bin, args.slice(1)] : [process.execPath, args];
    const child = spawn(file, rest, { env: { ...env, ...extra }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => {
      const wallMs = performance.now() - started;
      if (code !== 0) return reject(new Error(`${args.join(' ')} exited ${code}: ${stderr}`));
      resolve({ wallMs });
    });
  });
}

/** Wall time of the run, and its CPU and minor faults: the growth of this process's children's. */
async function measure(variant: Variant): Promise<Sample> {
  const before = children();
  const { wallMs } = await timed(variant);
  const after = children();
  return { wallMs, cpuMs: after.cpuMs - before.cpuMs, faults: after.faults - before.faults };
}

/** CPU (user + system, ms) and minor faults of this process's children that have been waited for. */
function children(): { cpuMs: number; faults: number } {
  // /proc/self/stat fields 11 (cminflt), 16 and 17 (cutime and cstime, in clock ticks, 100 a second).
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  return { cpuMs: (Number(fields[13]) + Number(fields[14])) * 10, faults: Number(fields[8]) };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function p90(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.9))]!;
}

const admin = await openDatabase({ databaseUrl: pgUrl, databaseSchema: schema }, { create: true });
await migrate(admin);
await admin.close();

const variants: Variant[] = [
  { label: 'mtc-batch process (snapshot, shipped)', args: [bin, 'process'] },
  { label: '  the same without huge pages', args: [bin, 'process'], env: { GLIBC_TUNABLES: '' } },
  { label: 'node bin/mtc-batch process (bundle)', args: ['--', bin, 'process'] },
  { label: 'mtc-batch process (dist/src, unbundled)', args: [unbundled, 'process'] },
  { label: 'node -e 0 (the floor)', args: ['-e', '0'] },
];
const samples = new Map<string, Sample[]>(variants.map(({ label }) => [label, []]));
console.log(machineSpeedLine('start'));
// Warm the file system cache once, then interleave.
for (const variant of variants) await timed(variant);
for (let round = 0; round < rounds; round++) {
  for (const variant of round % 2 === 0 ? variants : [...variants].reverse()) samples.get(variant.label)!.push(await measure(variant));
}

console.log(`start-up, ${rounds} rounds each, interleaved; PostgreSQL ${new URL(pgUrl).host}, empty bus`);
console.log(`${'command'.padEnd(42)} ${'wall median'.padStart(12)} ${'wall p90'.padStart(9)} ${'CPU median'.padStart(11)} ${'minor faults'.padStart(13)}`);
for (const [label, list] of samples) {
  const wall = list.map((s) => s.wallMs);
  const cpu = list.map((s) => s.cpuMs);
  const faults = median(list.map((s) => s.faults)).toLocaleString('en-GB');
  console.log(`${label.padEnd(42)} ${`${median(wall).toFixed(0)} ms`.padStart(12)} ${`${p90(wall).toFixed(0)} ms`.padStart(9)} ${`${median(cpu).toFixed(0)} ms`.padStart(11)} ${faults.padStart(13)}`);
}
const medianOf = (i: number) => median(samples.get(variants[i]!.label)!.map((s) => s.wallMs));
console.log(
  `snapshot / snapshot without huge pages: ${(medianOf(0) / medianOf(1)).toFixed(2)}×; snapshot / bundle: ${(medianOf(0) / medianOf(2)).toFixed(2)}×; ` +
    `bundle / unbundled: ${(medianOf(2) / medianOf(3)).toFixed(2)}×; target: shipped median ≤ 150 ms`,
);
console.log(machineSpeedLine('end'));

/** Running the CLI from tests: in-process (fast) or as a real child process (pg-boss cliTest). */
import { spawn } from 'node:child_process';
import { PassThrough, Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { run } from '../../src/cli/main.js';

export const binPath = fileURLToPath(new URL('../../../bin/mtc-batch', import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout parsed as one JSON object (throws if it is not exactly one). */
  json<T = Record<string, unknown>>(): T;
}

function result(code: number, stdout: string, stderr: string): CliResult {
  return {
    code,
    stdout,
    stderr,
    json<T>() {
      const text = stdout.trim();
      if (text.includes('\n')) throw new Error(`stdout holds more than one line:\n${stdout}`);
      return JSON.parse(text) as T;
    },
  };
}

function collect(stream: PassThrough): () => string {
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return () => Buffer.concat(chunks).toString('utf8');
}

/** Runs the CLI in this process with its own env, stdin and captured output. */
export async function runCli(args: string[], options: { env?: Record<string, string>; stdin?: string; signal?: AbortSignal } = {}): Promise<CliResult> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out = collect(stdout);
  const err = collect(stderr);
  const code = await run(['node', 'mtc-batch', ...args], {
    stdout,
    stderr,
    stdin: Readable.from([options.stdin ?? '']),
    env: { PATH: process.env.PATH, MTC_BATCH_LOG_FORMAT: 'json', ...options.env },
    signal: options.signal,
  });
  return result(code, out(), err());
}

/** Spawns bin/mtc-batch as a real process, the way an operator runs it (from the start-up snapshot). */
export function spawnCli(
  args: string[],
  options: { env?: Record<string, string>; stdin?: string; timeoutMs?: number; keepStdinOpen?: boolean; cwd?: string; uid?: number; gid?: number } = {},
): Promise<CliResult> & { child: ReturnType<typeof spawn>; stderr(): string } {
  const child = spawn(binPath, args, {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
    ...(options.cwd ? { cwd: options.cwd } : {}),
    ...(options.uid !== undefined ? { uid: options.uid, gid: options.gid ?? options.uid } : {}),
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  if (options.keepStdinOpen) child.stdin.write(options.stdin ?? '');
  else child.stdin.end(options.stdin ?? '');
  const promise = new Promise<CliResult>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`mtc-batch ${args.join(' ')} did not exit within ${options.timeoutMs ?? 60_000} ms\nstderr: ${stderr}`));
    }, options.timeoutMs ?? 60_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve(result(code ?? (signal ? 128 : 1), stdout, stderr));
    });
  });
  return Object.assign(promise, { child, stderr: () => stderr });
}

/** Waits until a spawned CLI's stderr holds `text` (start-up takes longer on a loaded machine). */
export async function untilStderr(worker: { stderr(): string }, text: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!worker.stderr().includes(text)) {
    if (Date.now() > deadline) throw new Error(`stderr did not show ${JSON.stringify(text)} within ${timeoutMs} ms:\n${worker.stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** `mtc-batch serve --serve-port 0` as a real process, and its URL once it logs "listening" (JSON log format). */
export async function spawnServe(env: Record<string, string>, timeoutMs = 60_000): Promise<{ child: ReturnType<typeof spawnCli>; url: string }> {
  const child = spawnCli(['serve', '--serve-port', '0'], { env, timeoutMs });
  let stderr = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
      const listening = stderr.split('\n').find((l) => l.includes('"msg":"listening"'));
      if (listening) resolve(String((JSON.parse(listening) as { url: string }).url));
    });
    child.child.on('exit', () => reject(new Error(`serve exited before listening:\n${stderr}`)));
  });
  return { child, url };
}

/**
 * A command run to completion without blocking the test process: spawnSync would stop
 * this worker's event loop, and the other tests of the file (running concurrently) would
 * see their connections time out meanwhile.
 */
import { spawn } from 'node:child_process';

export interface Exited {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function exec(command: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Exited> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

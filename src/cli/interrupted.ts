import { errorMessage } from '../errors.js';

/**
 * What a command reading input reports when a stop signal ended it before the input did:
 * the last line it handled. The inputs it reads are safe to replay, so the fix is to run
 * it again with the same input.
 */
export function interruption(signal: AbortSignal | undefined, lastLine: number): { afterLine: number; message: string } | null {
  if (!signal?.aborted) return null;
  return {
    afterLine: lastLine,
    message: `interrupted (${errorMessage(signal.reason)}) after line ${lastLine}: later lines were not read; run it again with the same input (lines already handled change nothing)`,
  };
}

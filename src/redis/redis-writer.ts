/**
 * The only code that writes Redis in bulk. Commands carry many values each and are sent
 * in one pipeline, so a round trip carries thousands of values rather than one: building
 * one ioredis command object per value is what makes naive pipelines slow.
 */
import type { Redis } from 'ioredis';

/** Values per RPUSH: large enough to amortise a command, small enough not to stall the server. */
export const listChunkSize = 5_000;

/** Appends `values` to the list at `key`, in order, in one round trip. */
export async function appendToList(client: Redis, key: string, values: readonly (string | number)[]): Promise<void> {
  if (values.length === 0) return;
  const pipeline = client.pipeline();
  for (let i = 0; i < values.length; i += listChunkSize) pipeline.rpush(key, ...values.slice(i, i + listChunkSize));
  const results = (await pipeline.exec()) ?? [];
  const failed = results.find(([err]) => err);
  if (failed?.[0]) throw failed[0];
}

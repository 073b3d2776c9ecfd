/**
 * The only code that writes Redis in bulk. Each command carries thousands of values, and
 * the commands of a step are sent back to back without waiting for replies, so a pass
 * costs a few round trips whatever the number of keys. Building one ioredis command
 * object per key is what makes naive pipelines slow (200 ms and more for 20,000 SETs).
 */
import type { Redis } from 'ioredis';
import { groupByNode } from './nodes.js';
import { type RedisClient, isCluster } from './redis.js';
import { LuaScript } from './script.js';

/** Values per command: large enough to amortise a command, small enough not to stall the server. */
export const valuesPerCommand = 2_000;

/** Values per RPUSH/SADD. */
export const listChunkSize = 5_000;

function chunk<T>(values: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < values.length; i += size) chunks.push(values.slice(i, i + size));
  return chunks;
}

/** Appends `values` to the list at `key`, in order, in one round trip. */
export async function appendToList(client: RedisClient, key: string, values: readonly (string | number)[]): Promise<void> {
  if (values.length === 0) return;
  const pipeline = client.pipeline();
  for (const part of chunk(values, listChunkSize)) pipeline.rpush(key, ...part);
  const results = (await pipeline.exec()) ?? [];
  const failed = results.find(([err]) => err);
  if (failed?.[0]) throw failed[0];
}

/** Adds `members` to the set at `key`, in commands of a few thousand members. */
export async function addToSet(client: RedisClient, key: string, members: readonly string[]): Promise<void> {
  await Promise.all(chunk(members, listChunkSize).map((part) => client.sadd(key, ...part)));
}

// ARGV[1]: ttl seconds; ARGV[2]: the entries packed as "key<TAB>value<LF>" records;
// optionally ARGV[3], ARGV[4]: a lock key and the token it must hold, else nothing is
// written and -1 returned (a fence: on one server, a writer whose lock was taken over
// writes nothing, however late its commands arrive). One argument instead of thousands:
// the client serialises one string, and the server splits it with plain string.find.
// Keys come as data, not KEYS: one call writes keys of many slots (declared KEYS would all
// have to share one in a cluster).
const setManyScript = new LuaScript(
  'set-many',
  `local ttl, packed = ARGV[1], ARGV[2]
if ARGV[3] and redis.call('GET', ARGV[3]) ~= ARGV[4] then return -1 end
local pos, n = 1, 0
while pos <= #packed do
  local tab = string.find(packed, '\\t', pos, true)
  local lf = string.find(packed, '\\n', tab, true)
  redis.call('SET', string.sub(packed, pos, tab - 1), string.sub(packed, tab + 1, lf - 1), 'EX', ttl)
  n = n + 1
  pos = lf + 1
end
return n`,
);

// ARGV: the keys to remove. Returns how many existed.
const unlinkManyScript = new LuaScript(
  'unlink-many',
  `local removed = 0
for i = 1, #ARGV do
  removed = removed + redis.call('UNLINK', ARGV[i])
end
return removed`,
);

/**
 * Loads the bulk scripts on every node, so a pass's commands are never reordered by a
 * first-use NOSCRIPT retry.
 */
export async function loadWriterScripts(client: RedisClient): Promise<void> {
  await Promise.all([setManyScript.load(client), unlinkManyScript.load(client)]);
}

/**
 * Entries packed as "key<TAB>value<LF>" records as they arrive (overdue-sync packs while
 * its query still runs), sent by setPackedWithTtl in commands of up to
 * `valuesPerCommand` records per node. Keys must not contain tabs or newlines, nor values
 * newlines (JSON text never does). For one server (`grouped` false) the commands' strings
 * are built as the entries arrive, so none is copied again when the pass begins; a
 * cluster's entries are kept one by one until their nodes are known.
 */
export class PackedEntries {
  private readonly keys: string[] = [];
  private readonly records: string[] = [];
  private readonly chunks: string[] = [];
  private current = '';
  private inCurrent = 0;
  private count = 0;

  constructor(private readonly grouped = true) {}

  add(key: string, value: string): void {
    if (/[\t\n]/.test(key) || value.includes('\n')) throw new Error(`cannot pack the entry for ${JSON.stringify(key)}: tab or newline`);
    this.count++;
    if (this.grouped) {
      this.keys.push(key);
      this.records.push(`${key}\t${value}\n`);
      return;
    }
    this.current += `${key}\t${value}\n`;
    if (++this.inCurrent === valuesPerCommand) {
      this.chunks.push(this.current);
      this.current = '';
      this.inCurrent = 0;
    }
  }

  get size(): number {
    return this.count;
  }

  /** The commands to send: per node that serves the keys, chunks of packed records. */
  commandsFor(client: RedisClient): Array<{ node: Redis; packed: string }> {
    if (!this.grouped) {
      if (isCluster(client)) throw new Error('entries packed for one server cannot be sent to a cluster');
      return [...this.chunks, ...(this.inCurrent > 0 ? [this.current] : [])].map((packed) => ({ node: client, packed }));
    }
    const indexes = this.keys.map((_, i) => i);
    return groupByNode(client, indexes, (i) => this.keys[i]!).flatMap(({ node, items }) =>
      chunk(items, valuesPerCommand).map((part) => ({ node, packed: part.map((i) => this.records[i]).join('') })),
    );
  }
}

/**
 * SET key value EX ttl for every packed entry: one command per chunk, on its node, all sent
 * at once. With a fence (one server only: the lock must live where the entries do), each
 * command writes only while `fence.key` holds `fence.token`. Returns false when a command
 * found the fence closed and wrote nothing.
 */
export async function setPackedWithTtl(
  commands: ReadonlyArray<{ node: Redis; packed: string }>,
  ttlSeconds: number,
  fence?: { key: string; token: string },
): Promise<boolean> {
  const fenceArgs = fence ? [fence.key, fence.token] : [];
  const replies = await Promise.all(commands.map(({ node, packed }) => setManyScript.run(node, 0, [ttlSeconds, packed, ...fenceArgs])));
  return replies.every((n) => Number(n) >= 0);
}

/** Removes `keys` (UNLINK: memory is freed in the background), each on its node. Returns how many existed. */
export async function unlinkMany(client: RedisClient, keys: readonly string[]): Promise<number> {
  const counts = await Promise.all(
    groupByNode(client, keys, (key) => key).flatMap(({ node, items }) => chunk(items, valuesPerCommand).map((part) => unlinkManyScript.run(node, 0, part))),
  );
  return counts.reduce<number>((sum, n) => sum + Number(n), 0);
}

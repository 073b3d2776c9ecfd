/**
 * Where keys live. One server serves every key; in a cluster each key belongs to a slot
 * and each slot to one master. Bulk scripts run on the node that serves all of their
 * keys (a script may touch several slots of its own node, not another node's keys).
 */
import calculateSlot from 'cluster-key-slot';
import type { Redis } from 'ioredis';
import { type RedisClient, isCluster } from './redis.js';
import { RedisConnectionLost } from '../errors.js';

/** The masters to send node-wide work to (script loading, per-node scans). */
export function masters(client: RedisClient): Redis[] {
  return isCluster(client) ? client.nodes('master') : [client];
}

/**
 * Keys matching `pattern` on every master, a SCAN page at a time with the node that holds
 * them. For tests and benchmarks: the toolkit itself (the demo too) never scans.
 */
export async function* scanKeys(client: RedisClient, pattern: string): AsyncGenerator<{ node: Redis; keys: string[] }> {
  for (const node of masters(client)) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      if (keys.length > 0) yield { node, keys };
      cursor = next;
    } while (cursor !== '0');
  }
}

/** `items` grouped by the node that serves each one's key, in their original order. */
export function groupByNode<T>(client: RedisClient, items: readonly T[], keyOf: (item: T) => string): Array<{ node: Redis; items: T[] }> {
  if (!isCluster(client)) return items.length > 0 ? [{ node: client, items: [...items] }] : [];
  const byAddress = new Map(client.nodes('master').map((node) => [`${node.options.host}:${node.options.port}`, node]));
  const groups = new Map<Redis, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const address = (client.slots[calculateSlot(key)] as string[] | undefined)?.[0];
    const node = address === undefined ? undefined : byAddress.get(address);
    if (!node) throw new RedisConnectionLost(`no node of the cluster is known to serve ${key} (slot ${calculateSlot(key)}): a master is down, or the cluster is resharding`);
    let group = groups.get(node);
    if (!group) groups.set(node, (group = []));
    group.push(item);
  }
  return [...groups].map(([node, grouped]) => ({ node, items: grouped }));
}

/**
 * Where keys live. One server serves every key; in a cluster each key belongs to a slot
 * and each slot to one master. Bulk scripts run on the node that serves all of their
 * keys (a script may touch several slots of its own node, not another node's keys).
 */
import calculateSlot from 'cluster-key-slot';
import type { Redis } from 'ioredis';
import { type RedisClient, isCluster } from './redis.js';

/** The masters to send node-wide work to (script loading, per-node scans). */
export function masters(client: RedisClient): Redis[] {
  return isCluster(client) ? client.nodes('master') : [client];
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
    if (!node) throw new Error(`no cluster node is known to serve ${key} (slot ${calculateSlot(key)}); is the cluster resharding?`);
    let group = groups.get(node);
    if (!group) groups.set(node, (group = []));
    group.push(item);
  }
  return [...groups].map(([node, grouped]) => ({ node, items: grouped }));
}

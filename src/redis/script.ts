import { createHash } from 'node:crypto';
import { masters } from './nodes.js';
import type { RedisClient } from './redis.js';

/**
 * A Lua script run by its SHA (EVALSHA), loaded with EVAL the first time a server has
 * not seen it. Keys are passed as arguments where a call touches many keys in many
 * slots (see the callers); `numberOfKeys` counts those declared as KEYS.
 */
export class LuaScript {
  readonly sha: string;

  constructor(
    readonly name: string,
    readonly source: string,
  ) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  /**
   * Makes sure every server (each master of a cluster) has the script, so later EVALSHA
   * calls run in the order they were sent.
   */
  async load(client: RedisClient): Promise<void> {
    await Promise.all(masters(client).map((node) => node.script('LOAD', this.source)));
  }

  /**
   * Runs the script. With keys in ARGV only (numberOfKeys 0) pass the node that serves
   * them; with declared KEYS a cluster client routes the call by its key.
   */
  async run(client: RedisClient, numberOfKeys: number, args: ReadonlyArray<string | number>): Promise<unknown> {
    try {
      return await client.evalsha(this.sha, numberOfKeys, ...args);
    } catch (err) {
      if (!String((err as Error).message).startsWith('NOSCRIPT')) throw err;
      return client.eval(this.source, numberOfKeys, ...args);
    }
  }
}

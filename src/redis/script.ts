import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

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

  /** Makes sure the server has the script, so later EVALSHA calls run in the order they were sent. */
  async load(client: Redis): Promise<void> {
    await client.script('LOAD', this.source);
  }

  async run(client: Redis, numberOfKeys: number, args: ReadonlyArray<string | number>): Promise<unknown> {
    try {
      return await client.evalsha(this.sha, numberOfKeys, ...args);
    } catch (err) {
      if (!String((err as Error).message).startsWith('NOSCRIPT')) throw err;
      return client.eval(this.source, numberOfKeys, ...args);
    }
  }
}

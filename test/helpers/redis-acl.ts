/**
 * The least-privilege Redis ACL user the README gives the jobs, built from the key
 * settings exactly as the README says to derive it; setting it on every node of a server
 * or cluster; and reading back what the servers refused it (ACL LOG records every denial,
 * also those a client library swallows).
 */
import type { ExecutionContext } from 'ava';
import { Redis } from 'ioredis';
import { settingSpec } from '../../src/config/settings.js';
import type { Database } from '../../src/db/database.js';
import type { RedisClient } from '../../src/redis/redis.js';
import type { CliResult } from './cli.js';

export interface JobKeys {
  notificationPrefix: string;
  notificationIndexKey: string;
  busKey: string;
  sessionPrefix: string;
}

export const defaultJobKeys: JobKeys = {
  notificationPrefix: String(settingSpec('notificationPrefix').default),
  notificationIndexKey: String(settingSpec('notificationIndexKey').default),
  busKey: String(settingSpec('busKey').default),
  sessionPrefix: String(settingSpec('sessionPrefix').default),
};

/** The commands the README grants, in its order (each is justified there). */
export const jobCommands = [
  'get', 'set', 'del', 'unlink', 'expire', 'pexpire', 'pttl', 'type', 'rename',
  'rpush', 'lpop', 'llen', 'lrange',
  'sadd', 'scard', 'smembers', 'sdiff', 'sunionstore',
  'evalsha', 'eval', 'script|load', 'watch', 'multi', 'exec',
  'ping', 'cluster|slots', 'cluster|info', 'client|setname', 'asking', 'readonly',
] as const;

/** A key name as an ACL pattern matching only itself: Redis patterns give * ? [ ] \ a meaning. */
export function literalPattern(name: string): string {
  return name.replace(/[*?[\]\\]/g, '\\$&');
}

/** The rules after `ACL SETUSER <user>`, password excluded. */
export function jobAclRules(keys: JobKeys): string[] {
  return [
    `~${literalPattern(keys.notificationPrefix)}*`,
    `~${literalPattern(keys.notificationIndexKey)}`,
    `~${literalPattern(keys.notificationIndexKey)}:*`,
    `~${literalPattern(keys.busKey)}`,
    ...jobCommands.map((c) => `+${c}`),
    `(~${literalPattern(keys.sessionPrefix)}* +get +expire)`,
  ];
}

/** The whole command, as the README prints it. */
export function aclSetUserLine(user: string, password: string, keys: JobKeys): string {
  return ['ACL SETUSER', user, 'reset', 'on', `>${password}`, ...jobAclRules(keys)].join(' ');
}

export interface AclNodes {
  /** One admin connection (the default user) per node. */
  admins: Redis[];
  /** Denials the nodes logged for `user` since they started: "<reason> <object>" each. */
  denials(): Promise<string[]>;
}

/** Creates (or redefines) `user` on every node, each a redis-server on 127.0.0.1. */
export async function setJobUser(t: ExecutionContext, ports: readonly number[], user: string, password: string, keys: JobKeys): Promise<AclNodes> {
  const admins = ports.map((port) => new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 }));
  t.teardown(async () => {
    // The cluster may outlive the test: the user goes with it.
    await Promise.all(admins.map((a) => a.acl('DELUSER', user).catch(() => undefined)));
    for (const a of admins) a.disconnect();
  });
  for (const admin of admins) await admin.acl('SETUSER', user, 'reset', 'on', `>${password}`, ...jobAclRules(keys));
  const denials = async () => {
    const found: string[] = [];
    for (const admin of admins) {
      const entries = (await admin.call('ACL', 'LOG', '1000')) as unknown[][];
      for (const entry of entries) {
        const fields = new Map<string, unknown>();
        for (let i = 0; i + 1 < entry.length; i += 2) fields.set(String(entry[i]), entry[i + 1]);
        if (fields.get('username') === user) found.push(`${String(fields.get('reason'))} ${String(fields.get('object'))}`);
      }
    }
    return found;
  };
  return { admins, denials };
}

/** One run of the jobs as the ACL user (see test/redis-acl.test.ts). */
export interface AclRun {
  t: ExecutionContext;
  db: Database;
  /** Environment of every CLI run: the database (its job role), and REDIS_URL as the ACL user. */
  env: Record<string, string>;
  keys: JobKeys;
  /** The default user, to seed sessions and look at what the jobs wrote. */
  admin: RedisClient;
  nodes: AclNodes;
  /** Connections the test's own server accepted so far (single server only). */
  connections?: () => Promise<number>;
  /** Runs the CLI as the ACL user; fails the test on NOPERM in its output or in any node's ACL LOG. */
  cli(args: string[], expectedCode?: number, extra?: { stdin?: string }): Promise<CliResult>;
  /** After a CLI run started by other means: nothing refused so far. */
  noDenials(label: string): Promise<void>;
}

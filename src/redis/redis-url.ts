/**
 * What a REDIS_URL names: one server (`redis://`, `rediss://`, handed to ioredis as is) or a
 * cluster (`redis+cluster://[user:pass@]host1:7000,host2:7001`, `rediss+cluster://` for
 * TLS), whose node list seeds ioredis's Cluster client. Pure, so configuration can check
 * a URL before anything connects.
 */

export interface ClusterTarget {
  nodes: Array<{ host: string; port: number }>;
  username?: string;
  password?: string;
  tls: boolean;
}

/**
 * The nodes and credentials of a cluster URL, or null for a single server.
 * Throws an Error saying what is wrong with a malformed cluster URL (never echoing it).
 */
export function parseClusterUrl(url: string): ClusterTarget | null {
  if (!/^rediss?\+cluster:/.test(url)) return null;
  const match = /^(rediss?)\+cluster:\/\/(?:([^:@/]*)(?::([^@/]*))?@)?([^/?#@]+)\/?$/.exec(url);
  if (!match) throw new Error('a cluster URL is redis+cluster://[user:pass@]host1:port1,host2:port2, with no path or database number');
  const [, scheme, user, pass, hostList] = match as unknown as [string, string, string | undefined, string | undefined, string];
  const nodes = hostList.split(',').map((entry) => {
    const m = /^([^:,\s]+):(\d{1,5})$/.exec(entry.trim());
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) throw new Error(`cluster node "${entry}" must be host:port with a port from 1 to 65535`);
    return { host: m[1]!, port: Number(m[2]) };
  });
  return {
    nodes,
    ...(user ? { username: decodeURIComponent(user) } : {}),
    ...(pass ? { password: decodeURIComponent(pass) } : {}),
    tls: scheme === 'rediss',
  };
}

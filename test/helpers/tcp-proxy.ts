/**
 * A TCP proxy on loopback for tests and benchmarks: it can delay every chunk in both
 * directions (a distant server) or cut the connection after some bytes (a failure
 * midway). Chunks keep their order; a delay shifts them without throttling throughput.
 */
import { type AddressInfo, type Server, type Socket, createConnection, createServer } from 'node:net';

export interface ProxyOptions {
  targetHost: string;
  targetPort: number;
  /** Delay of every chunk, each way. */
  delayMs?: number;
  /** Destroy the connection once this many bytes went from client to server. */
  cutAfterBytes?: number;
  /** Port to listen on (default: any free one); e.g. the port of a proxy closed earlier, to bring it back. */
  port?: number;
}

export interface TcpProxy {
  port: number;
  url(scheme?: string): string;
  /** Bytes forwarded from clients to the server so far. */
  readonly forwardedBytes: number;
  close(): Promise<void>;
}

/** Forwards `from` to `to`, each chunk `delayMs` later; returns when the last chunk is due. */
function pipeDelayed(from: Socket, to: Socket, delayMs: number, onChunk?: (chunk: Buffer) => boolean): () => number {
  // One queue and one timer per direction: chunks leave strictly in arrival order. (A
  // timer per chunk could fire out of order when two chunks arrived in one turn of the
  // event loop and the clock ticked between them, which corrupts the byte stream.)
  const queue: Array<{ due: number; chunk: Buffer | null }> = [];
  let timer: NodeJS.Timeout | undefined;
  let last = 0;
  const drain = () => {
    timer = undefined;
    const now = Date.now();
    while (queue.length > 0 && queue[0]!.due <= now) {
      const { chunk } = queue.shift()!;
      if (to.destroyed) continue;
      if (chunk === null) to.end();
      else to.write(chunk);
    }
    if (queue.length > 0) timer = setTimeout(drain, queue[0]!.due - now);
  };
  const enqueue = (chunk: Buffer | null) => {
    last = Math.max(Date.now() + delayMs, last);
    queue.push({ due: last, chunk });
    timer ??= setTimeout(drain, delayMs);
  };
  from.on('data', (chunk: Buffer) => {
    if (onChunk && !onChunk(chunk)) return;
    if (delayMs <= 0) {
      to.write(chunk);
      return;
    }
    enqueue(chunk);
  });
  // The end travels behind the last chunk, like the data.
  from.on('end', () => (delayMs <= 0 ? to.end() : enqueue(null)));
  from.on('error', () => to.destroy());
  return () => last;
}

export async function startTcpProxy(options: ProxyOptions): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let forwarded = 0;
  const server: Server = createServer((client) => {
    const upstream = createConnection({ host: options.targetHost, port: options.targetPort });
    // No Nagle: a delayed small write waiting on a delayed ACK would add ~40 ms stalls
    // that the simulated link does not have (Redis clients set TCP_NODELAY themselves).
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    sockets.add(client).add(upstream);
    const cut = () => {
      client.destroy();
      upstream.destroy();
    };
    const upstreamDue = pipeDelayed(client, upstream, options.delayMs ?? 0, (chunk) => {
      forwarded += chunk.length;
      if (options.cutAfterBytes !== undefined && forwarded > options.cutAfterBytes) {
        cut();
        return false;
      }
      return true;
    });
    const clientDue = pipeDelayed(upstream, client, options.delayMs ?? 0);
    // A side that closes still gets its delayed chunks delivered to the other first.
    const closeLater = (socket: Socket, due: () => number) => () => setTimeout(() => socket.destroy(), Math.max(0, due() - Date.now()) + 1);
    client.on('close', closeLater(upstream, upstreamDue));
    upstream.on('close', closeLater(client, clientDue));
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: (scheme = 'redis') => `${scheme}://127.0.0.1:${port}`,
    get forwardedBytes() {
      return forwarded;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

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
  let last = 0;
  from.on('data', (chunk: Buffer) => {
    if (onChunk && !onChunk(chunk)) return;
    if (delayMs <= 0) {
      to.write(chunk);
      return;
    }
    // Never before the previous chunk: order is kept even if timers fire together.
    const due = Math.max(Date.now() + delayMs, last);
    last = due;
    setTimeout(() => {
      if (!to.destroyed) to.write(chunk);
    }, due - Date.now());
  });
  from.on('end', () => setTimeout(() => to.end(), Math.max(delayMs, last - Date.now())));
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

/**
 * A second connection to the server an ioredis client talks to, written in Redis's own
 * protocol (RESP2) without a command object per command: for overdue-sync's transaction of
 * tens of thousands of SETs, which ioredis would build, queue and resolve one by one, and
 * which a Lua script pays for in per-call overhead on the server (see streamed-pass.ts).
 *
 * Only what that needs: connect like the client (host and port or socket path, TLS,
 * user and password, the selected database), send text that is already protocol, and
 * count or keep the replies in order.
 */
import { type NetConnectOpts, type Socket, connect as netConnect } from 'node:net';
// The module object, not a named import: the start-up snapshot reaches node:tls through a
// stand-in that loads it on first use.
import tls from 'node:tls';
import type { Redis } from 'ioredis';
import { errorMessage } from '../errors.js';

/** A reply: status and bulk strings, integers, nil, errors (as values), arrays of these. */
export type Reply = string | number | null | RedisReplyError | Reply[];

/** An error reply (`-ERR …`), as a value: a transaction's replies hold them in place. */
export class RedisReplyError extends Error {
  override name = 'RedisReplyError';
}

/** Text for one command, as the protocol writes it (byte lengths, not string lengths). */
export function resp(args: ReadonlyArray<string | number>): string {
  let out = `*${args.length}\r\n`;
  for (const arg of args) {
    const text = String(arg);
    out += `$${Buffer.byteLength(text)}\r\n${text}\r\n`;
  }
  return out;
}

const CR = 13;
const PLUS = 43;
const COLON = 58;

/**
 * Parses one reply at `pos`: the reply and where the next starts, or undefined when the
 * buffer ends first (pure).
 */
export function parseReply(buf: Buffer, pos: number): { reply: Reply; next: number } | undefined {
  // The replies a transaction is made of, +OK and small integers, read byte by byte: an
  // EXEC answers with tens of thousands of them.
  const type = buf[pos];
  if (type === PLUS && buf[pos + 1] === 79 && buf[pos + 2] === 75 && buf[pos + 3] === CR) {
    return pos + 4 < buf.length ? { reply: 'OK', next: pos + 5 } : undefined;
  }
  if (type === COLON) {
    let at = pos + 1;
    let value = 0;
    const negative = buf[at] === 45;
    if (negative) at++;
    for (; at < buf.length && at < pos + 17; at++) {
      const c = buf[at]!;
      if (c === CR) {
        if (at + 1 >= buf.length) return undefined;
        return { reply: negative ? -value : value, next: at + 2 };
      }
      value = value * 10 + (c - 48);
    }
    if (at >= buf.length) return undefined;
  }
  const end = buf.indexOf(CR, pos);
  if (end < 0 || end + 1 >= buf.length) return undefined;
  const line = buf.toString('utf8', pos + 1, end);
  const after = end + 2;
  switch (type) {
    case 43: // +
      return { reply: line, next: after };
    case 45: // -
      return { reply: new RedisReplyError(line), next: after };
    case 58: // :
      return { reply: Number(line), next: after };
    case 36: {
      // $
      const length = Number(line);
      if (length < 0) return { reply: null, next: after };
      if (after + length + 2 > buf.length) return undefined;
      return { reply: buf.toString('utf8', after, after + length), next: after + length + 2 };
    }
    case 42: {
      // *
      const count = Number(line);
      if (count < 0) return { reply: null, next: after };
      const items: Reply[] = [];
      let at = after;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buf, at);
        if (!item) return undefined;
        items.push(item.reply);
        at = item.next;
      }
      return { reply: items, next: at };
    }
    default:
      throw new Error(`unexpected byte ${type} in a reply from Redis`);
  }
}

interface Waiter {
  /** Replies still to come for this waiter. */
  left: number;
  /** Kept replies (only when the waiter keeps them), else the first error reply seen. */
  replies: Reply[] | null;
  firstError: RedisReplyError | null;
  resolve: (value: { replies: Reply[]; firstError: RedisReplyError | null }) => void;
  reject: (err: Error) => void;
}

/**
 * Where and how an ioredis client connects (a single server only), as ioredis itself
 * builds it: a socket path, or host, port and address family; then the TLS options over
 * them. Also the user, the password and the database the client selected.
 */
function targetOf(client: Redis): { socket: Record<string, unknown>; tls: boolean; username?: string; password?: string; db: number } {
  const o = client.options;
  const socket: Record<string, unknown> = o.path
    ? { path: o.path }
    : { ...(o.port != null ? { port: o.port } : {}), ...(o.host != null ? { host: o.host } : {}), ...(o.family != null ? { family: o.family } : {}) };
  if (o.tls) Object.assign(socket, o.tls);
  // The database the client selected (SELECT), else the one it opened with.
  const selected = (client as unknown as { condition?: { select?: number } }).condition?.select;
  return {
    socket,
    tls: Boolean(o.tls),
    ...(o.username ? { username: o.username } : {}),
    ...(o.password ? { password: o.password } : {}),
    db: typeof selected === 'number' ? selected : (o.db ?? 0),
  };
}

export class RawRedisConnection {
  private pending: Buffer | null = null;
  private readonly waiters: Waiter[] = [];
  private failure: Error | null = null;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => this.fail(new Error('the connection closed')));
  }

  /**
   * Connects to the server `client` is connected to, as the same user, in the same
   * database. Fails (and closes) when the connection or the handshake does.
   */
  static async open(client: Redis, timeoutMs: number): Promise<RawRedisConnection> {
    const target = targetOf(client);
    const socket = target.tls ? tls.connect(target.socket as tls.ConnectionOptions) : netConnect(target.socket as unknown as NetConnectOpts);
    socket.setNoDelay(true);
    const connection = new RawRedisConnection(socket);
    const timer = setTimeout(() => connection.fail(new Error(`no connection within ${timeoutMs} ms`)), timeoutMs);
    try {
      let handshake = '';
      let replies = 0;
      if (target.password) {
        handshake += resp(target.username ? ['AUTH', target.username, target.password] : ['AUTH', target.password]);
        replies++;
      }
      if (target.db !== 0) {
        handshake += resp(['SELECT', target.db]);
        replies++;
      }
      handshake += resp(['PING']);
      replies++;
      const { firstError } = await connection.send(handshake, replies);
      if (firstError) throw firstError;
      return connection;
    } catch (err) {
      connection.close();
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Why the connection failed, or null while it works. */
  get failed(): Error | null {
    return this.failure;
  }

  /**
   * Writes `text` (one or more commands, as protocol; a string as UTF-8) and resolves with
   * their `replies` replies once all have come: kept when `keep`, and the first error reply
   * among them. Rejects when the connection fails first.
   */
  send(text: string | Buffer, replies: number, keep = false): Promise<{ replies: Reply[]; firstError: RedisReplyError | null }> {
    return new Promise((resolve, reject) => {
      if (this.failure) {
        reject(this.failure);
        return;
      }
      if (replies > 0) this.waiters.push({ left: replies, replies: keep ? [] : null, firstError: null, resolve, reject });
      this.socket.write(text);
      if (replies === 0) resolve({ replies: [], firstError: null });
    });
  }

  /** Closes the connection (a transaction not yet executed is discarded by the server). */
  close(): void {
    this.fail(new Error('the connection was closed'));
    this.socket.destroy();
  }

  private receive(chunk: Buffer): void {
    const buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    let pos = 0;
    try {
      while (pos < buf.length) {
        // A status reply (+OK, +QUEUED) nobody keeps is counted, not read: a transaction
        // of tens of thousands of commands answers one per command.
        const waiter = this.waiters[0];
        if (buf[pos] === PLUS && waiter && !waiter.replies) {
          const end = buf.indexOf(CR, pos);
          if (end < 0 || end + 1 >= buf.length) break;
          pos = end + 2;
          this.deliver('');
          continue;
        }
        const parsed = parseReply(buf, pos);
        if (!parsed) break;
        pos = parsed.next;
        this.deliver(parsed.reply);
      }
    } catch (err) {
      this.fail(new Error(`cannot read a reply from Redis: ${errorMessage(err)}`));
      this.socket.destroy();
      return;
    }
    this.pending = pos < buf.length ? buf.subarray(pos) : null;
  }

  private deliver(reply: Reply): void {
    const waiter = this.waiters[0];
    if (!waiter) {
      this.fail(new Error('Redis sent a reply nothing asked for'));
      this.socket.destroy();
      return;
    }
    if (reply instanceof RedisReplyError) waiter.firstError ??= reply;
    waiter.replies?.push(reply);
    if (--waiter.left === 0) {
      this.waiters.shift();
      waiter.resolve({ replies: waiter.replies ?? [], firstError: waiter.firstError });
    }
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const waiter of this.waiters.splice(0)) waiter.reject(this.failure);
  }
}

/**
 * overdue-sync's Redis pass on one server, as one transaction streamed while the query
 * still runs: its commands reach the server as the rows arrive, and when the query ends
 * only EXEC is left. The pass after the query is then one round trip and the server's
 * execution of plain commands: no Lua call per entry, and no command object per entry here
 * (the protocol text is written as it is, on a connection of its own: RawRedisConnection).
 *
 * On that connection, opened as soon as the run holds its lock:
 *
 *   WATCH <lock>  GET <lock>  TYPE <index>, <next>, <journal>, <last-run>  MULTI
 *                                         nothing more is sent before these have answered
 *   EVAL fold                             renew the lock, fold a crashed run's "next" into the index
 *   SADD <next> <school>…  SET <entry> <value> EX <ttl> …   per thousand schools, as they arrive
 *   EXPIRE <next> <ttl>
 *   EVAL finish                           remove the index's schools not in "next", swap, journal, unlock
 *   EXEC
 *
 * Fencing: GET proves the lock this run's when WATCH began, and EXEC does nothing (nil)
 * when the lock was touched since: taken over, expired, or renewed. The transaction runs
 * whole only while the lock stayed this run's throughout, and otherwise not at all. A nil
 * EXEC with the lock still this run's (its own renewal came between: a query longer than a
 * third of the lock's lifetime) is passed back, and the caller runs the pass the other way
 * (Lua scripts over ioredis, redis-writer.ts). So does a server that refuses the
 * connection or the transaction (an ACL without WATCH, MULTI or EXEC), or a connection that
 * fails before EXEC: whatever went wrong then left nothing written. MULTI must have
 * answered before any other command is sent: a server refusing it would run them at once.
 *
 * The entries are kept as the bytes that were sent (outside the JavaScript heap, which a
 * copy of every value would make the garbage collector copy again and again while the query
 * runs), and read back from them when the pass has to run the other way.
 *
 * The transaction blocks the server while it executes, about 2 µs per school: 30–40 ms
 * for 16,500 schools.
 */
import type { Redis } from 'ioredis';
import { RedisConnectionLost, errorMessage } from '../errors.js';
import { RawRedisConnection, type Reply, RedisReplyError, parseReply, resp } from '../redis/raw-connection.js';
import type { PupilMerge } from './merge-pupils.js';
import { PackedEntries } from '../redis/redis-writer.js';
import { bookkeepingTypes, finishArgs, finishScript, finishedRun, foldScript, lockKeyOf, nextKeyOf, wrongTypeRefusal } from './sync-journal.js';

/** Schools per SADD and per write to the socket. */
const schoolsPerChunk = 1_000;

export type StreamedOutcome =
  | { done: true; removed: number; replay: PupilMerge[] }
  /**
   * Nothing was written: run the pass the other way. `refused`: the server refused the
   * transaction (an ACL, say: worth a warning); `lockTouched`: EXEC found the lock changed.
   */
  | { done: false; reason: string; refused: boolean; lockTouched: boolean };

/** Why the transaction was not begun, once that is known. */
type NotBegun = { kind: 'lock-lost' } | { kind: 'conflict'; error: RedisReplyError } | { kind: 'unusable'; reason: string; refused: boolean };

type Replies = Promise<{ replies: Reply[]; firstError: RedisReplyError | null }>;

export interface StreamedRun {
  indexKey: string;
  prefix: string;
  token: string;
  ttlSeconds: number;
  lockMs: number;
  connectTimeoutMs: number;
}

export class StreamedPass {
  /** The entries' commands as sent (or to send), a thousand schools each. */
  private readonly chunks: Buffer[] = [];
  private raw: RawRedisConnection | null = null;
  /** The connection once its transaction is begun (MULTI answered, the lock this run's). */
  private connection: RawRedisConnection | null = null;
  /** Set instead when the transaction cannot be begun. */
  private notBegun: NotBegun | null = null;
  private readonly opening: Promise<void>;
  /** Commands waiting for the transaction to begin. */
  private readonly outbox: Array<{ text: string | Buffer; replies: number }> = [];
  private readonly sent: Replies[] = [];
  private text = '';
  private chunkSchools: string[] = [];
  private readonly next: string;
  private readonly expiry: string;
  private keyBytes = -1;
  private keyHead = '';
  /** Whether every command's text is ASCII (the prefix and index key are), so lengths are string lengths. */
  private readonly ascii: boolean;

  constructor(client: Redis, private readonly run: StreamedRun) {
    this.next = nextKeyOf(run.indexKey);
    this.ascii = isAscii(run.prefix) && isAscii(run.indexKey);
    this.expiry = `$2\r\nEX\r\n$${String(run.ttlSeconds).length}\r\n${run.ttlSeconds}\r\n`;
    const lock = lockKeyOf(run.indexKey);
    this.opening = RawRedisConnection.open(client, run.connectTimeoutMs)
      .then(async (connection) => {
        this.raw = connection;
        // The bookkeeping keys: one of another kind (another program's key of that name)
        // would fail the transaction's scripts inside EXEC, after the entries were
        // written, or be replaced (the finish SETs the last-run key). Found here, nothing is.
        const typed = bookkeepingTypes(run.indexKey);
        const head = await connection.send(resp(['WATCH', lock]) + resp(['GET', lock]) + typed.map(([key]) => resp(['TYPE', key])).join('') + resp(['MULTI']), 3 + typed.length, true);
        const refusal = wrongTypeRefusal(typed, head.replies.slice(2));
        if (head.firstError) this.end({ kind: 'unusable', reason: `Redis refused the transaction: ${head.firstError.message}`, refused: true });
        else if (head.replies[1] !== run.token) this.end({ kind: 'lock-lost' });
        else if (refusal !== null) this.end({ kind: 'conflict', error: new RedisReplyError(refusal) });
        else {
          this.connection = connection;
          this.outbox.unshift({ text: resp(['EVAL', foldScript.source, 3, run.indexKey, this.next, lock, run.token, run.ttlSeconds, run.lockMs]), replies: 1 });
          this.drain();
        }
      })
      .catch((err: unknown) => this.end({ kind: 'unusable', reason: `cannot use a second connection to Redis: ${errorMessage(err)}`, refused: false }));
  }

  /** The transaction will not be begun: nothing more is sent, and the connection closes (discarding MULTI). */
  private end(why: NotBegun): void {
    this.notBegun = why;
    this.outbox.length = 0;
    this.raw?.close();
  }

  /**
   * One school's entry, as its row arrives. Where the prefix is ASCII the text is sent as
   * latin1 with string lengths: the value must then be ASCII, as notificationBuilder's are
   * (UUIDs, an ISO date and fixed text).
   */
  add(school: string, key: string, value: string): void {
    this.chunkSchools.push(school);
    // Every key of a run has one length (the prefix and a UUID): its header is made once.
    const keyBytes = this.ascii ? key.length : Buffer.byteLength(key);
    if (keyBytes !== this.keyBytes) {
      this.keyBytes = keyBytes;
      this.keyHead = `*5\r\n$3\r\nSET\r\n$${keyBytes}\r\n`;
    }
    const valueBytes = this.ascii ? value.length : Buffer.byteLength(value);
    this.text += `${this.keyHead}${key}\r\n$${valueBytes}\r\n${value}\r\n${this.expiry}`;
    if (this.chunkSchools.length === schoolsPerChunk) this.flush();
  }

  /** Closes the connection: a transaction not executed is discarded by the server. */
  close(): void {
    this.raw?.close();
  }

  /** Every entry, read back from the bytes, packed for the pass the other way (one server). */
  packedEntries(): PackedEntries {
    const packed = new PackedEntries(false);
    this.flush();
    for (const chunk of this.chunks) {
      let pos = 0;
      while (pos < chunk.length) {
        const parsed = parseReply(chunk, pos);
        if (!parsed || !Array.isArray(parsed.reply)) throw new Error('cannot read back the entries of the transaction');
        const [name, key, value] = parsed.reply as string[];
        if (name === 'SET') packed.add(key!, value!);
        pos = parsed.next;
      }
    }
    return packed;
  }

  /**
   * After the query: queues the rest and the finish, then EXEC (the lock was proven this
   * run's when the transaction began). Returns what the finish found, or why nothing was
   * written (run the pass the other way). Throws `lockLost()` when the lock was not this
   * run's, and an error when the outcome is unknown (the connection failed after EXEC was
   * sent) or a command failed as it ran. `beforeExec` is awaited just before EXEC (tests).
   */
  async commit(schools: number, lockLost: () => Error, beforeExec?: () => Promise<void>): Promise<StreamedOutcome> {
    this.flush();
    if (schools > 0) this.queue(resp(['EXPIRE', this.next, this.run.ttlSeconds]), 1);
    const finish = finishArgs(this.run.indexKey, this.run.token, this.run.ttlSeconds, schools > 0, [this.run.prefix]);
    this.queue(resp(['EVAL', finishScript.source, 5, ...finish]), 1);
    await this.opening;
    const connection = this.connection;
    if (!connection) {
      const why = this.notBegun!;
      if (why.kind === 'lock-lost') throw lockLost();
      if (why.kind === 'conflict') throw why.error;
      return { done: false, reason: why.reason, refused: why.refused, lockTouched: false };
    }
    await beforeExec?.();
    if (connection.failed) {
      this.close();
      return { done: false, reason: `the second connection to Redis failed: ${connection.failed.message}`, refused: false, lockTouched: false };
    }
    const executing = connection.send(resp(['EXEC']), 1, true);
    let exec;
    try {
      exec = await executing;
    } catch (err) {
      // EXEC runs whole or not at all; which one, the reply would have said.
      throw new RedisConnectionLost(`the run's second connection failed (${errorMessage(err)}) after its transaction was sent, so whether the transaction ran (all of it, or none) is unknown`, { cause: err });
    } finally {
      this.close();
    }
    const [reply] = exec.replies;
    if (reply === null) return { done: false, reason: 'the lock was touched while the transaction was queued', refused: false, lockTouched: true };
    if (reply instanceof RedisReplyError) {
      // EXECABORT: a command was refused as it was queued (ACL, memory); nothing ran.
      const queued = (await Promise.all(this.sent.map((s) => s.catch(() => null)))).find((r) => r?.firstError)?.firstError;
      return { done: false, reason: `Redis refused the transaction: ${queued?.message ?? reply.message}`, refused: true, lockTouched: false };
    }
    const results = reply as Reply[];
    const failed = results.find((r): r is RedisReplyError => r instanceof RedisReplyError);
    if (failed) throw new Error(`a command of this run's transaction failed on the server (${failed.message}); the other commands ran: a next run repairs what this one left once the cause is gone`);
    const finished = results[0] === 1 ? finishedRun(results[results.length - 1]) : null;
    if (!finished) throw lockLost();
    return { done: true, ...finished };
  }

  /** The schools and entries added since the last chunk, as one chunk of bytes. */
  private flush(): void {
    if (this.chunkSchools.length === 0) return;
    // As bytes at once: the text, a tree of thousands of small strings, dies young.
    const chunk = Buffer.from(resp(['SADD', this.next, ...this.chunkSchools]) + this.text, this.ascii ? 'latin1' : 'utf8');
    const replies = this.chunkSchools.length + 1;
    this.chunks.push(chunk);
    this.text = '';
    this.chunkSchools = [];
    this.queue(chunk, replies);
  }

  private queue(text: string | Buffer, replies: number): void {
    if (this.notBegun) return;
    this.outbox.push({ text, replies });
    this.drain();
  }

  /** Sends what waits, in order, once the transaction is begun. */
  private drain(): void {
    const connection = this.connection;
    if (!connection) return;
    for (const { text, replies } of this.outbox.splice(0)) {
      const sending = connection.send(text, replies);
      // Read in commit (EXECABORT's cause), never unhandled.
      sending.catch(() => undefined);
      this.sent.push(sending);
    }
  }
}

function isAscii(text: string): boolean {
  return /^[\x00-\x7f]*$/.test(text);
}

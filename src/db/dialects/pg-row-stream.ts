/**
 * Rows of a PostgreSQL query as they arrive, without a cursor. node-pg keeps no rows when
 * a query only has `row` listeners, and without a cursor PostgreSQL may run the query
 * in parallel (it never does for cursors): a grouped query over hundreds of thousands
 * of rows is about twice as fast. There is no back-pressure, so this suits results the
 * caller consumes quickly and that are bounded (one row per school, say).
 */
import type { Knex } from 'knex';
import type * as Pg from 'pg';

interface PgConnection {
  query(query: Pg.Query): unknown;
}

export async function* pgRowStream(knex: Knex, sql: string, bindings: readonly unknown[], signal?: AbortSignal): AsyncGenerator<Record<string, unknown>> {
  const native = knex.raw(sql, bindings as Knex.RawBinding[]).toSQL().toNative();
  const client = knex.client as { acquireConnection(): Promise<PgConnection>; releaseConnection(c: PgConnection): Promise<void> };
  const connection = await client.acquireConnection();
  const rows: Array<Record<string, unknown>> = [];
  let done = false;
  let discard = false;
  let failure: unknown;
  let wake: (() => void) | undefined;
  const notify = () => {
    wake?.();
    wake = undefined;
  };
  // The driver knex loaded: one pg in the process, loaded when a PostgreSQL connection opens.
  const driver = (knex.client as unknown as { driver: typeof Pg }).driver;
  const query = new driver.Query({ text: native.sql, values: native.bindings as unknown[] });
  // A stop request (or a consumer that stopped early) cancels the query on the server, so
  // that a query waiting on a lock or still grouping does not hold the process. A
  // connection a cancel was sent on is not reused: the cancel arrives asynchronously and
  // could hit its next query.
  let cancelled = false;
  const cancel = () => {
    if (done || cancelled) return;
    cancelled = true;
    sendCancelRequest(driver, connection);
  };
  signal?.addEventListener('abort', cancel, { once: true });
  try {
    query.on('row', (row: Record<string, unknown>) => {
      if (discard) return;
      rows.push(row);
      notify();
    });
    query.on('end', () => {
      done = true;
      notify();
    });
    query.on('error', (err: unknown) => {
      failure = err;
      done = true;
      notify();
    });
    connection.query(query);
    // A stop requested before the query was sent: it is cancelled at once.
    if (signal?.aborted) cancel();
    for (;;) {
      while (rows.length > 0) yield rows.shift()!;
      if (failure !== undefined) throw failure;
      if (done) return;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    // A consumer that stopped early: the query is cancelled, and its end awaited (rows
    // dropped) before the connection leaves, so nobody gets it mid-query.
    signal?.removeEventListener('abort', cancel);
    if (!done) {
      discard = true;
      rows.length = 0;
      cancel();
      while (!done) await new Promise<void>((resolve) => (wake = resolve));
    }
    if (cancelled) retire(connection);
    await client.releaseConnection(connection);
  }
}

/**
 * Asks the server to cancel the statement running on `connection`: node-pg's
 * CancelRequest, sent the way its Client#cancel sends it, but without that method's check
 * of the deprecated `activeQuery` (which prints a deprecation warning). The connection
 * should then be retired: the cancel arrives asynchronously and could hit its next query.
 */
export function sendCancelRequest(driver: typeof Pg, connection: unknown): void {
  const target = connection as { host: string; port: number; processID: number; secretKey: number };
  const canceller = new driver.Client({ host: target.host, port: target.port }) as unknown as {
    connection: NodeJS.EventEmitter & { connect(port: number | string, host?: string): void; cancel(processID: number, secretKey: number): void };
  };
  const con = canceller.connection;
  con.on('error', () => undefined);
  con.on('connect', () => con.cancel(target.processID, target.secretKey));
  if (target.host?.startsWith('/')) con.connect(`${target.host}/.s.PGSQL.${target.port}`);
  else con.connect(target.port, target.host);
}

/** Marks a connection so knex closes it when it is released instead of reusing it. */
function retire(connection: unknown): void {
  (connection as { __knex__disposed?: unknown }).__knex__disposed = 'a statement on it was cancelled';
}

/**
 * Cancels the statements running on every connection the pool has lent out (a stopping
 * worker whose batches are stuck behind a lock) and retires those connections. Returns
 * how many were asked.
 */
export function cancelRunningStatements(knex: Knex): number {
  const client = knex.client as { driver: typeof Pg; pool?: { used?: Array<{ resource: unknown }> } };
  const used = client.pool?.used ?? [];
  for (const { resource } of used) {
    sendCancelRequest(client.driver, resource);
    retire(resource);
  }
  return used.length;
}

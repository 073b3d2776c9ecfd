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

export async function* pgRowStream(knex: Knex, sql: string, bindings: readonly unknown[]): AsyncGenerator<Record<string, unknown>> {
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
  try {
    // The driver knex loaded: one pg in the process, loaded when a PostgreSQL connection opens.
    const query = new (knex.client as unknown as { driver: typeof Pg }).driver.Query({ text: native.sql, values: native.bindings as unknown[] });
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
    for (;;) {
      while (rows.length > 0) yield rows.shift()!;
      if (failure !== undefined) throw failure;
      if (done) return;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    // A consumer that stopped early: let the query finish (rows dropped) before the
    // connection goes back to the pool, so nobody gets it mid-query.
    if (!done) {
      discard = true;
      rows.length = 0;
      while (!done) await new Promise<void>((resolve) => (wake = resolve));
    }
    await client.releaseConnection(connection);
  }
}

/**
 * Cancelling PostgreSQL statements from the client: a stop request that must not wait for
 * a statement stuck behind a lock (overdue-sync's query, process's batches, serve's
 * requests at the end of their grace).
 */
import type { Knex } from 'knex';
import type * as Pg from 'pg';

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
export function retire(connection: unknown): void {
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

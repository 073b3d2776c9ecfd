/**
 * A SQL Server that is not there: knex's own mssql client, with the connection replaced
 * by one that records every statement (as tedious would send it: `@pN` parameters and
 * the types knex gives them) and answers from rules the test sets. The jobs' real
 * library functions run against it, so what is recorded is what they send.
 *
 * Transactions are TDS requests in tedious, not SQL text: they are recorded as markers.
 */
import { createRequire } from 'node:module';
import knexFactory, { type Knex } from 'knex';
import type { Database } from '../../src/db/database.js';
import { dialects } from '../../src/db/dialect.js';

const require = createRequire(import.meta.url);
// knex's SQL Server client class (CommonJS, not part of knex's typed surface).
const MssqlClient = require('knex/lib/dialects/mssql/index.js') as new (config: Knex.Config) => object;

export type Rows = Array<Record<string, unknown>>;

export interface Recorded {
  /** The SQL text, or a transaction marker such as `-- begin transaction`. */
  sql: string;
  /** Each parameter's tedious type, in order (`@p0` first). */
  types: string[];
  bindings: unknown[];
  /** True for transaction markers, which are not SQL. */
  marker: boolean;
}

type Reply = Rows | ((bindings: unknown[], sql: string) => Rows);

interface Rule {
  match: RegExp;
  reply: Reply;
  times: number;
}

export interface MssqlRecorder {
  db: Database;
  /** Everything sent so far, in order. */
  readonly recorded: Recorded[];
  /**
   * Answers statements matching `match` with `reply` (rows, or a function of the
   * bindings that returns rows or throws), `times` times (default: always). Later rules
   * win. Unmatched statements get no rows; knex's update/delete count (`select
   * @@rowcount`) and our affected-row suffix answer 0.
   */
  on(match: RegExp, reply: Reply, times?: number): void;
  /** Returns what was recorded since the last call and starts a new section. */
  take(): Recorded[];
  close(): Promise<void>;
}

/** Rows as tedious delivers them: one array of {metadata, value} per row. */
function asTediousRows(rows: Rows): unknown[] {
  return rows.map((row) => Object.entries(row).map(([colName, value]) => ({ metadata: { colName }, value })));
}

export function mssqlRecorder(): MssqlRecorder {
  const recorded: Recorded[] = [];
  let taken = 0;
  const rules: Rule[] = [];

  const replyFor = (sql: string, bindings: unknown[]): Rows => {
    for (let i = rules.length - 1; i >= 0; i--) {
      const rule = rules[i]!;
      if (rule.times > 0 && rule.match.test(sql)) {
        rule.times--;
        return typeof rule.reply === 'function' ? rule.reply(bindings, sql) : rule.reply;
      }
    }
    if (/; ?select @@rowcount$/i.test(sql)) return [{ '': 0 }];
    if (/SELECT @@ROWCOUNT AS \[affected_rows\]$/.test(sql)) return [{ affected_rows: 0 }];
    return [];
  };

  const mark = (what: string) => recorded.push({ sql: `-- ${what}`, types: [], bindings: [], marker: true });
  const connection = {
    state: { name: 'LoggedIn' },
    inTransaction: false,
    beginTransaction(cb: (err?: Error) => void) {
      this.inTransaction = true;
      mark('begin transaction');
      cb();
    },
    commitTransaction(cb: (err?: Error) => void) {
      this.inTransaction = false;
      mark('commit');
      cb();
    },
    rollbackTransaction(cb: (err?: Error) => void) {
      this.inTransaction = false;
      mark('rollback');
      cb();
    },
    saveTransaction(cb: (err?: Error) => void) {
      mark('save transaction');
      cb();
    },
    close() {},
    once() {},
  };

  class RecordingClient extends (MssqlClient as unknown as new (config: Knex.Config) => Record<string, unknown>) {
    acquireRawConnection() {
      return Promise.resolve(connection);
    }

    validateConnection() {
      return true;
    }

    destroyRawConnection() {
      return Promise.resolve();
    }

    /** Records the statement with the parameter types knex's own binding code picks. */
    record(query: { sql: string; bindings?: unknown[] }): Rows {
      const types: string[] = [];
      const request = {
        addParameter: (_name: string, type: { name: string }) => {
          types.push(type.name);
        },
      };
      (this._assignBindings as (request: unknown, bindings: unknown) => void).call(this, request, query.bindings);
      const bindings = [...(query.bindings ?? [])];
      recorded.push({ sql: query.sql, types, bindings, marker: false });
      return replyFor(query.sql, bindings);
    }

    _query(_connection: unknown, query: { sql: string; bindings?: unknown[]; response?: unknown }) {
      return new Promise((resolve, reject) => {
        try {
          query.response = asTediousRows(this.record(query));
          // Answer asynchronously, like a server.
          setImmediate(() => resolve(query));
        } catch (err) {
          setImmediate(() => reject(err));
        }
      });
    }

    _stream(_connection: unknown, query: { sql: string; bindings?: unknown[] }, stream: NodeJS.WritableStream & { emit(event: string, err: unknown): boolean }) {
      return new Promise<void>((resolve, reject) => {
        try {
          for (const row of this.record(query)) stream.write(row as never);
          stream.end();
          resolve();
        } catch (err) {
          stream.emit('error', err);
          reject(err);
        }
      });
    }
  }

  const knex = knexFactory({ client: RecordingClient as unknown as typeof knexFactory.Client, connection: {}, pool: { min: 0, max: 4 } });
  const db: Database = {
    knex,
    dialect: dialects.mssql,
    display: 'mssql://recorder (no server)',
    schema: null,
    close: () => knex.destroy(),
  };
  return {
    db,
    recorded,
    on(match, reply, times = Infinity) {
      rules.push({ match, reply, times });
    },
    take() {
      const section = recorded.slice(taken);
      taken = recorded.length;
      return section;
    },
    close: () => knex.destroy(),
  };
}

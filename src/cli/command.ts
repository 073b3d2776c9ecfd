/**
 * The shape every subcommand shares. A command declares its options and the settings it
 * exposes as flags, and implements `run`, which calls one library function and returns
 * an Outcome. Printing, configuration, logging, exit codes and closing connections
 * happen here, once, for all of them.
 */
import { performance } from 'node:perf_hooks';
import type { Readable, Writable } from 'node:stream';
import { Command, Option } from 'commander';
import { loadConfig, settingPlace } from '../config/load-config.js';
import { type Config, type LogFormat, type SettingKey, flagName, flagProperty, maskUrl, settingSources, settingSpec, shownDefault } from '../config/settings.js';
import { missingTable, readOnlyAdvice } from '../db/sql-text.js';
import { ConfigError, ConnectionError, ExitCode, type ExitCodeValue, MtcError, SchemaError, errorMessage, isWrongType, lostConnection } from '../errors.js';
import { type Logger, createLogger } from '../log/logger.js';
import { routeLibraryWarnings } from '../log/library-warnings.js';
import { outputWasLost, reportOutputLost, setActiveLog } from '../log/notice.js';
import { Runtime } from '../runtime.js';
import { guardOptionValues } from './option-values.js';
import { reportError } from './report-error.js';

export interface CommandIO {
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable & { isTTY?: boolean };
  stdin: Readable;
  env: NodeJS.ProcessEnv;
  /** Aborted when the process is asked to stop (SIGTERM, SIGINT). */
  signal?: AbortSignal;
}

export interface RunContext {
  config: Readonly<Config>;
  log: Logger;
  runtime: Runtime;
  io: CommandIO;
  json: boolean;
  /** Progress bars only where a person watches: human logs on a terminal, no --json. */
  showProgress: boolean;
}

export interface Outcome {
  /** Defaults to 0. */
  exitCode?: ExitCodeValue;
  /** Printed as the one JSON object on stdout with --json. */
  result: Record<string, unknown>;
  /** Printed on stdout otherwise. */
  human: string;
}

export interface CommandSpec<O extends object = Record<string, unknown>> {
  name: string;
  summary: string;
  /** Longer text for `<command> --help`. */
  description?: string;
  /** Settings this command takes as flags (e.g. `batchSize` → `--batch-size`). */
  settings: SettingKey[];
  /**
   * `create`: the command may create the database and needs no schema (migrate). By
   * default a command needs an existing, migrated database.
   */
  database?: 'migrated' | 'create';
  /** Command-specific options and arguments. */
  configure?(cmd: Command): void;
  run(ctx: RunContext, opts: O, args: string[]): Promise<Outcome>;
  /** A command whose normal end is a stop signal (serve): stopping is `finished`, not `stopped early`. */
  stopsOnSignal?: boolean;
}

interface CommonOptions {
  config?: string;
  json?: boolean;
  quiet?: boolean;
  verbose?: boolean;
}

/**
 * The counts of a result, for the final log record: scalars as they are, small objects of
 * scalars (timings) kept, lists as their length.
 */
export function summaryFields(result: Record<string, unknown>): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(result)) {
    if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) fields[key] = value;
    else if (Array.isArray(value)) fields[key] = value.length;
    else if (typeof value === 'object' && Object.values(value).every((v) => v === null || typeof v !== 'object')) fields[key] = value;
  }
  return fields;
}

/**
 * Raw errors whose cause is known become errors saying what to do: MOVED from a plain
 * redis:// URL at a cluster node (when connecting did not already tell), and "no such
 * table" from a job's query (the schema check at connect covers the toolkit's own
 * tables; this covers the reference tables, which other systems own in production).
 */
function explained(err: unknown, runtime: Runtime | undefined, command: string): unknown {
  if (err instanceof MtcError) return err;
  const lost = lostConnection(err);
  if (lost && runtime) {
    const target = lost.service === 'database' ? `the database ${maskUrl(runtime.config.databaseUrl)}` : `Redis ${maskUrl(runtime.config.redisUrl)}`;
    // notify-invalid's input is not read again by itself: the batch in progress may be
    // marked in SQL and not yet notified.
    const next = command === 'notify-invalid' ? 'give the same input again (a replay is harmless: marked checks are notified again)' : 'the next run carries on where this one stopped';
    return new ConnectionError(`lost the connection to ${target}: ${lost.reason}; ${next}`, { cause: err });
  }
  if (/^(MOVED|ASK) \d+ /.test(errorMessage(err))) {
    return new ConfigError(`REDIS_URL points at a node of a Redis Cluster (it answered ${errorMessage(err).split(' ')[0]}): write it as redis+cluster://host:port[,host:port…]`, { cause: err });
  }
  if (isWrongType(err) && runtime) {
    const c = runtime.config;
    const setting = keySetting(errorMessage(err), c);
    const own = setting
      ? `give mtc-batch a key of its own (${settingSources(setting)})`
      : `give mtc-batch keys of its own (MTC_BATCH_BUS_KEY ${c.busKey}, MTC_BATCH_NOTIFICATION_INDEX_KEY ${c.notificationIndexKey}, MTC_BATCH_NOTIFICATION_PREFIX ${c.notificationPrefix})`;
    return new ConfigError(`a Redis key this command uses holds another kind of value (${errorMessage(err)}): another program uses the same name; ${own}`, { cause: err });
  }
  if ((err as { code?: unknown } | null)?.code === '3F000' && runtime) {
    // PostgreSQL's invalid_schema_name: "no schema has been selected to create in".
    return new SchemaError(
      `no schema to work in at ${maskUrl(runtime.config.databaseUrl)}: its search_path (from the URL's ?options= or the server's settings) ` +
        `names no schema that exists; set the schema (MTC_BATCH_DATABASE_SCHEMA, --database-schema or a config file's databaseSchema; migrate creates it), or create it`,
      { cause: err },
    );
  }
  const readOnly = runtime ? readOnlyAdvice(err, settingPlace(runtime.config, 'databaseUrl')) : null;
  if (readOnly !== null && runtime) {
    return new ConnectionError(`cannot write the SQLite database ${maskUrl(runtime.config.databaseUrl)} (${errorMessage(err)}): ${readOnly}`, { cause: err });
  }
  const table = missingTable(err);
  if (table === null) return err;
  const schema = runtime?.config.databaseSchema;
  const where = runtime ? `${schema ? `schema ${schema} of ` : ''}${maskUrl(runtime.config.databaseUrl)}` : 'the database';
  return new SchemaError(
    `table ${table} does not exist in ${where}: run "mtc-batch migrate" ` +
      `(or, where other systems own the reference tables, point DATABASE_URL at their database)`,
    { cause: err },
  );
}

/**
 * The setting a Redis key named in a WRONGTYPE refusal comes from ("WRONGTYPE the key <key>
 * holds a …", the jobs' own words; Redis's own names no key): the bus, the notification
 * index and the keys named after it, or a school's entry. Null when no key is named.
 */
export function keySetting(message: string, c: Pick<Config, 'busKey' | 'notificationIndexKey' | 'notificationPrefix'>): SettingKey | null {
  const key = /^WRONGTYPE the key (.+) holds an? \S+, not an? \S+$/.exec(message)?.[1];
  if (key === undefined) return null;
  if (key === c.busKey) return 'busKey';
  if (key === c.notificationIndexKey || key.startsWith(`${c.notificationIndexKey}:`)) return 'notificationIndexKey';
  if (key.startsWith(c.notificationPrefix)) return 'notificationPrefix';
  return null;
}

/**
 * The log format asked for before the settings are read: the flag's value, else
 * MTC_BATCH_LOG_FORMAT, when it is a format; else "auto".
 */
export function askedLogFormat(flag: unknown, env: CommandIO['env']): LogFormat {
  return [flag, env.MTC_BATCH_LOG_FORMAT].find((v): v is LogFormat => v === 'human' || v === 'json' || v === 'auto') ?? 'auto';
}

/** Adds `spec` to `program`; `setExit` receives the command's exit code. */
export function addCommand<O extends object>(
  program: Command,
  spec: CommandSpec<O>,
  io: CommandIO,
  setExit: (code: ExitCodeValue) => void,
): Command {
  const cmd = program.command(spec.name).summary(spec.summary).description(spec.description ?? spec.summary);
  spec.configure?.(cmd);
  for (const key of spec.settings) {
    const s = settingSpec(key);
    cmd.addOption(new Option(`${flagName(key)} <value>`, `${s.description} [env ${s.env}; default ${shownDefault(s)}]`));
  }
  cmd
    .option('--config <file>', 'JSON file of settings (or env MTC_BATCH_CONFIG)')
    .option('--json', 'print exactly one JSON object on stdout (logs stay on stderr)')
    .option('-q, --quiet', 'log warnings and errors only')
    .option('-v, --verbose', 'log debug detail too');
  guardOptionValues(cmd);

  cmd.action(async (...actionArgs: unknown[]) => {
    const self = actionArgs[actionArgs.length - 1] as Command;
    const opts = self.opts() as O & CommonOptions;
    const json = opts.json === true;
    const flags: Partial<Record<SettingKey, unknown>> = {};
    for (const key of spec.settings) flags[key] = (opts as Record<string, unknown>)[flagProperty(key)];
    if (opts.verbose) flags.logLevel = 'debug';
    else if (opts.quiet) flags.logLevel = 'warn';

    // Until the settings are read (a bad one fails that), the log format a flag or the
    // environment asks for, so a configuration error is written as the log will be.
    let log = createLogger({ format: askedLogFormat(flags.logFormat, io.env), level: 'info', stream: io.stderr, base: { command: spec.name } });
    let runtime: Runtime | undefined;
    const started = performance.now();
    const durationMs = () => Math.round(performance.now() - started);
    try {
      const config = loadConfig({ flags, configFile: opts.config, env: io.env });
      log = createLogger({ format: config.logFormat, level: config.logLevel, stream: io.stderr, base: { command: spec.name } });
      if (io.stderr === process.stderr) {
        routeLibraryWarnings(log);
        setActiveLog(log);
        // Which way bin/mtc-batch started Node (it falls back to the bundle by itself).
        const blob = process.execArgv.indexOf('--snapshot-blob');
        if (blob >= 0) log.debug('started from the start-up snapshot', { snapshot: process.execArgv[blob + 1] });
        else log.debug('started from the bundle, not the start-up snapshot');
      }
      runtime = new Runtime(config, log, { signal: io.signal, database: spec.database });
      const showProgress = !json && log.format === 'human' && io.stderr.isTTY === true;
      const outcome = await spec.run({ config, log, runtime, io, json, showProgress }, opts, self.args);
      const output = json ? `${JSON.stringify(outcome.result)}\n` : outcome.human ? (outcome.human.endsWith('\n') ? outcome.human : `${outcome.human}\n`) : '';
      // The output is the command's result: one that cannot be written (a full disk) fails
      // the command, and its `finished` record says so.
      const exitCode = (await outputLost(io.stdout, output, log)) ? ExitCode.failure : (outcome.exitCode ?? ExitCode.ok);
      const summary = { ...summaryFields(outcome.result), exitCode, durationMs: durationMs() };
      if (io.signal?.aborted && !spec.stopsOnSignal) log.warn(`stopped early: ${errorMessage(io.signal.reason)}`, summary);
      else log.info('finished', summary);
      setExit(exitCode);
    } catch (err) {
      let exitCode = reportError(explained(err, runtime, spec.name), { json, log, io });
      // With --json the error object (written above) is the output: lost, it fails the
      // command too. An empty write waits for the ones before it.
      if (json && (await outputLost(io.stdout, '', log))) exitCode = ExitCode.failure;
      // Every command ends with one record saying how, failures included.
      log.info('finished', { exitCode, durationMs: durationMs() });
      setExit(exitCode);
    } finally {
      if (runtime) {
        const closing = performance.now();
        await runtime.close();
        log.debug('closed connections', { ms: Math.round(performance.now() - closing) });
      }
    }
  });
  return cmd;
}

/**
 * Writes `text` (nothing when empty) and waits until the stream took it, with what was
 * written before. True when the output could not be written, which is then reported
 * once; a reader that left early (EPIPE) is not a failure.
 */
async function outputLost(stream: Writable, text: string, log: Logger): Promise<boolean> {
  const err = await new Promise<NodeJS.ErrnoException | null | undefined>((resolve) => stream.write(text, resolve));
  if (err && err.code !== 'EPIPE') reportOutputLost(err, log);
  return outputWasLost();
}

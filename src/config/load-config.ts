/**
 * Builds the one validated configuration of a run: frozen defaults, then a JSON config
 * file, then the environment, then flags. A flag that was not given is `undefined` and
 * never overrides anything (graphile-worker's stripUndefined).
 */
import { readFileSync } from 'node:fs';
import { duplicateKeyOrDepth } from '../input/json-shape.js';
import { ConfigError, errorMessage } from '../errors.js';
import { type Config, type SettingKey, type SettingSpec, defaults, flagName, settingSources, settings } from './settings.js';

export const configFileEnv = 'MTC_BATCH_CONFIG';

export interface LoadConfigInput {
  /** Flag values keyed by setting name; undefined = not given. Other keys are ignored. */
  flags?: Partial<Record<SettingKey, unknown>>;
  /** `--config <file>`; falls back to MTC_BATCH_CONFIG. */
  configFile?: string | undefined;
  env?: NodeJS.ProcessEnv;
}

/** Where a setting's value came from: a config file, the environment or a flag. */
export interface SettingOrigin {
  from: 'file' | 'env' | 'flag';
  /** As messages name it: `"redisUrl" in config file <file>`, `REDIS_URL`, `--redis-url`. */
  where: string;
}

/** The origins of the settings of each configuration loadConfig made (defaults have none). */
const originsOf = new WeakMap<object, ReadonlyMap<SettingKey, SettingOrigin>>();

/**
 * Where `key` of a configuration loadConfig returned came from; undefined for a default
 * (or a configuration made otherwise), so a message can tell a person where to change it.
 */
export function settingOrigin(config: Readonly<Config>, key: SettingKey): SettingOrigin | undefined {
  return originsOf.get(config)?.get(key);
}

/**
 * Where to change `key` of `config`, for a message: where its value came from, else every
 * place it can be set (a default, or a configuration made otherwise).
 */
export function settingPlace(config: Partial<Config>, key: SettingKey): string {
  return originsOf.get(config)?.get(key)?.where ?? settingSources(key);
}

/**
 * `config` with some settings replaced (the demo's own file and keys), keeping where the
 * others came from, so messages about them still name the place to change them.
 */
export function withSettings(config: Readonly<Config>, replaced: Partial<Config>): Readonly<Config> {
  const derived = Object.freeze({ ...config, ...replaced });
  const origins = originsOf.get(config);
  if (origins) originsOf.set(derived, new Map([...origins].filter(([key]) => !(key in replaced))));
  return derived;
}

export function loadConfig(input: LoadConfigInput = {}): Readonly<Config> {
  const env = input.env ?? process.env;
  const config: Record<string, unknown> = { ...defaults };
  const origins = new Map<SettingKey, SettingOrigin>();

  if (input.configFile === undefined && env[configFileEnv] === '') {
    throw new ConfigError(`${configFileEnv} is set but empty: unset it, or name a JSON file of settings`);
  }
  const file = input.configFile ?? env[configFileEnv];
  if (file !== undefined) {
    const fromFile = readConfigFile(file, input.configFile !== undefined ? '--config' : configFileEnv);
    for (const [key, raw] of Object.entries(fromFile)) {
      // A note for people ("$comment": "…"), as JSON has no comments.
      if (key === '$comment') continue;
      const spec = settings.find((s) => s.key === key);
      if (!spec) {
        throw new ConfigError(
          `unknown setting "${key}" in config file ${file}; known settings: ${settings.map((s) => s.key).join(', ')}`,
        );
      }
      const where = `"${key}" in config file ${file}`;
      config[key] = parseSetting(spec, raw, where);
      origins.set(spec.key, { from: 'file', where });
    }
  }

  // An empty variable is a value, not "unset": a Kubernetes secret that came out empty
  // must stop the job, not send it to the default database.
  for (const spec of settings) {
    const raw = env[spec.env];
    if (raw === undefined) continue;
    config[spec.key] = parseSetting(spec, raw, spec.env);
    origins.set(spec.key, { from: 'env', where: spec.env });
  }

  for (const spec of settings) {
    const raw = input.flags?.[spec.key];
    if (raw === undefined) continue;
    config[spec.key] = parseSetting(spec, raw, flagName(spec.key));
    origins.set(spec.key, { from: 'flag', where: flagName(spec.key) });
  }

  const loaded = Object.freeze(config as unknown as Config);
  originsOf.set(loaded, origins);
  return loaded;
}

function parseSetting(spec: SettingSpec, raw: unknown, where: string): unknown {
  try {
    return spec.parse(raw, where);
  } catch (err) {
    if (raw !== '' || !(err instanceof ConfigError)) throw err;
    const fallback = spec.default === null ? 'unset' : JSON.stringify(spec.default);
    throw new ConfigError(`${where} is set but empty: give a value, or remove it to use the default (${fallback})`, { cause: err });
  }
}

function readConfigFile(file: string, where: string): Record<string, unknown> {
  let text: string;
  try {
    // A byte-order mark before the JSON (some Windows editors write one) is dropped, as on
    // enqueue's --jsonl lines and serve's bodies: RFC 8259 lets a parser ignore it.
    text = readFileSync(file, 'utf8').replace(/^\uFEFF/, '');
  } catch (err) {
    throw new ConfigError(`cannot read the config file ${file} (from ${where}): ${errorMessage(err)}`, { cause: err });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`the config file ${file} is not valid JSON: ${errorMessage(err)}`, { cause: err });
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(`the config file ${file} must hold one JSON object of settings, e.g. {"batchSize": 500}`);
  }
  // JSON.parse keeps the last of a key given twice: a stale duplicate would win silently.
  const refused = duplicateKeyOrDepth(text);
  if (refused !== null) throw new ConfigError(`the config file ${file} is refused: ${refused}; keep one of them`);
  return parsed as Record<string, unknown>;
}

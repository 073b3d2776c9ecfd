/**
 * The machinery of test/manifests.test.ts: loading the Kubernetes manifests, the crontab and
 * the Dockerfile, and checking every mtc-batch call in them against the real CLI.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { commands } from '../../src/cli/program.js';
import { configFileEnv } from '../../src/config/load-config.js';
import { type SettingKey, flagName, settings } from '../../src/config/settings.js';

export const repo = new URL('../../../', import.meta.url);
export const k8sDir = new URL('cron/k8s/', repo);
export const crontabPath = new URL('cron/crontab', repo);
export const dockerfilePath = new URL('Dockerfile', repo);
export const binPath = fileURLToPath(new URL('bin/mtc-batch', repo));

/** The steps a scheduler must run. */
export const scheduledSteps = ['dispatch', 'process', 'overdue-sync', 'notify-invalid'];
/** Steps whose overlapping runs stay correct but only waste work (DESIGN.md, Scale). */
export const noOverlapSteps = ['dispatch', 'overdue-sync'];
export const ttlEnv = settings.find((s) => s.key === 'notificationTtlSeconds')!.env;
export const knownEnv = new Set([...settings.map((s) => s.env), configFileEnv, 'DEBUG']);
/** Variables cron itself reads; everything else in the crontab must be an mtc-batch one. */
export const cronEnv = new Set(['SHELL', 'PATH', 'MAILTO', 'HOME', 'LOGNAME', 'CRON_TZ', 'TZ']);

export type Obj = Record<string, unknown>;

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function at(v: unknown, ...path: Array<string | number>): unknown {
  let cur = v;
  for (const p of path) cur = typeof p === 'number' ? (Array.isArray(cur) ? cur[p] : undefined) : isObj(cur) ? cur[p] : undefined;
  return cur;
}

export function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

export function isWhole(v: unknown, min: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= min;
}

// ---- cron expressions ----

export const monthNames = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
export const dayNames = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
export const cronFields: Array<{ name: string; min: number; max: number; names?: string[]; first?: number }> = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: monthNames, first: 1 },
  { name: 'day of week', min: 0, max: 7, names: dayNames, first: 0 },
];

/** Problems with a 5-field cron expression (minute hour day-of-month month day-of-week). */
export function cronProblems(expr: string): string[] {
  const fields = expr.trim().split(/\s+/);
  if (fields.length !== 5) return [`"${expr}" has ${fields.length} fields, not 5`];
  const problems: string[] = [];
  fields.forEach((field, i) => {
    const spec = cronFields[i]!;
    const value = (s: string): number | null => {
      const named = spec.names?.indexOf(s.toLowerCase()) ?? -1;
      if (named >= 0) return named + spec.first!;
      return /^\d+$/.test(s) ? Number(s) : null;
    };
    const ok = field.split(',').every((part) => {
      const [range, step, extra] = part.split('/');
      if (extra !== undefined || range === undefined || (step !== undefined && !/^[1-9]\d*$/.test(step))) return false;
      if (range === '*') return true;
      const [a, b, more] = range.split('-');
      if (more !== undefined || a === undefined) return false;
      const lo = value(a);
      const hi = b === undefined ? lo : value(b);
      return lo !== null && hi !== null && lo >= spec.min && hi <= spec.max && lo <= hi;
    });
    if (!ok) problems.push(`"${expr}": ${spec.name} field "${field}" is not valid (${spec.min}-${spec.max}, *, lists, ranges, /steps)`);
  });
  return problems;
}

/** Seconds between runs of a regular schedule (every n minutes, hourly, every n hours, daily); null otherwise. */
export function intervalSeconds(expr: string): number | null {
  const [m, h, dom, mon, dow] = expr.trim().split(/\s+/);
  if (dom !== '*' || mon !== '*' || dow !== '*' || m === undefined || h === undefined) return null;
  const every = (f: string, whole: number) => {
    const n = f === '*' ? 1 : /^\*\/(\d+)$/.exec(f) ? Number(/^\*\/(\d+)$/.exec(f)![1]) : NaN;
    return n > 0 && whole % n === 0 ? n : null;
  };
  if (h === '*') {
    const minutes = every(m, 60);
    if (minutes !== null) return minutes * 60;
    return /^\d+$/.test(m) ? 3600 : null;
  }
  if (!/^\d+$/.test(m)) return null;
  const hours = every(h, 24);
  if (hours !== null) return hours * 3600;
  return /^\d+$/.test(h) ? 86_400 : null;
}

// ---- mtc-batch invocations ----

/** One call of the CLI: the words after `mtc-batch`, and where it was found. */
export interface Invocation {
  where: string;
  words: string[];
}

export function isMtcBatch(word: string): boolean {
  return word === 'mtc-batch' || word.endsWith('/bin/mtc-batch');
}

/**
 * The words of a shell script, with every operator, redirection and line end turned into
 * ";" so a command's arguments end there. Quotes are dropped: enough for these files,
 * whose mtc-batch arguments hold no spaces.
 */
export function shellWords(script: string): string[] {
  return script
    .replace(/\\\n/g, ' ')
    .replace(/(^|\s)#[^\n]*/g, '$1')
    .replace(/\d*[<>]+&?\d*/g, ' ; ')
    .replace(/&&|\|\||[;|&()`\n]/g, ' ; ')
    .replace(/['"]/g, ' ')
    .split(/\s+/)
    .filter((w) => w !== '');
}

/** Every `mtc-batch ...` in a shell script. */
export function invocationsInScript(script: string, where: string): Invocation[] {
  const words = shellWords(script);
  const found: Invocation[] = [];
  words.forEach((word, i) => {
    if (!isMtcBatch(word)) return;
    const end = words.indexOf(';', i + 1);
    found.push({ where, words: words.slice(i + 1, end === -1 ? undefined : end) });
  });
  return found;
}

/** A container's mtc-batch calls: its command itself, or the ones inside `sh -c <script>`. */
export function containerInvocations(container: unknown, where: string): { invocations: Invocation[]; problems: string[] } {
  const argv = [...list(at(container, 'command')), ...list(at(container, 'args'))];
  if (argv.length === 0 || !argv.every((a) => typeof a === 'string')) {
    return { invocations: [], problems: [`${where}: command/args must be a non-empty list of strings`] };
  }
  const words = argv as string[];
  if (isMtcBatch(words[0]!)) return { invocations: [{ where, words: words.slice(1) }], problems: [] };
  if (['sh', 'bash', '/bin/sh', '/bin/bash'].includes(words[0]!) && words[1] === '-c' && words[2] !== undefined) {
    const invocations = invocationsInScript(words[2], where);
    return { invocations, problems: invocations.length > 0 ? [] : [`${where}: the shell script never runs mtc-batch`] };
  }
  return { invocations: [], problems: [`${where}: command ${JSON.stringify(words[0])} is neither mtc-batch nor sh -c running it`] };
}

export type Arity = 'none' | 'value' | 'optional' | 'variadic';

export const helpCache = new Map<string, { ok: boolean; text: string }>();

/** `mtc-batch <command> --help`, from the real executable. */
export function helpOf(command: string): { ok: boolean; text: string } {
  let help = helpCache.get(command);
  if (!help) {
    const r = spawnSync(binPath, [command, '--help'], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
    help = { ok: r.status === 0, text: `${r.stdout}${r.stderr}` };
    helpCache.set(command, help);
  }
  return help;
}

/** The options a command's --help lists, each with whether it takes a value. */
export function optionsOf(help: string): Map<string, Arity> {
  const options = new Map<string, Arity>();
  for (const line of help.split('\n')) {
    // Option lines start at two spaces; wrapped descriptions are indented further.
    const m = /^ {2}(?:(-\w), )?(--[a-z][\w-]*)(?: ([<[])([^>\]]*)[>\]])?/.exec(line);
    if (!m) continue;
    const arity: Arity = m[3] === undefined ? 'none' : m[3] === '[' ? 'optional' : m[4]!.endsWith('...') ? 'variadic' : 'value';
    options.set(m[2]!, arity);
    if (m[1] !== undefined) options.set(m[1], arity);
  }
  return options;
}

/** Problems with one call: the command must exist and every flag be one it accepts, with a value where it needs one. */
export function invocationProblems({ where, words }: Invocation): string[] {
  const [command, ...args] = words;
  const names = commands.map((c) => c.name);
  if (command === undefined || command.startsWith('-')) return [`${where}: mtc-batch is run without a command`];
  if (!names.includes(command)) return [`${where}: "mtc-batch ${command}" is not a command (commands: ${names.join(', ')})`];
  const help = helpOf(command);
  if (!help.ok) return [`${where}: "mtc-batch ${command} --help" failed: ${help.text.trim()}`];
  const options = optionsOf(help.text);
  const problems: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const word = args[i]!;
    if (!word.startsWith('-') || word === '-') {
      problems.push(`${where}: unexpected argument "${word}" to mtc-batch ${command}`);
      continue;
    }
    const eq = word.indexOf('=');
    const flag = eq === -1 ? word : word.slice(0, eq);
    const arity = options.get(flag);
    if (arity === undefined) {
      problems.push(`${where}: mtc-batch ${command} does not accept ${flag} (not in "mtc-batch ${command} --help")`);
      continue;
    }
    let value: string | undefined = eq === -1 ? undefined : word.slice(eq + 1);
    const next = args[i + 1];
    const isValue = (w: string | undefined) => w !== undefined && (!w.startsWith('-') || w === '-');
    if (arity === 'none' && value !== undefined) problems.push(`${where}: ${flag} of mtc-batch ${command} takes no value`);
    if ((arity === 'value' || arity === 'variadic') && value === undefined) {
      if (!isValue(next)) problems.push(`${where}: ${flag} of mtc-batch ${command} needs a value`);
      else value = args[++i];
      while (arity === 'variadic' && isValue(args[i + 1])) i++;
    }
    if (value !== undefined) problems.push(...valueProblems(where, command, flag, value, help.text));
  }
  return problems;
}

/** A flag that sets a setting must pass that setting's own check; a `<n>` flag must be a number. */
export function valueProblems(where: string, command: string, flag: string, value: string, help: string): string[] {
  if (value.includes('$')) return []; // set by the shell at run time
  const setting = settings.find((s) => flagName(s.key) === flag);
  if (setting) {
    try {
      setting.parse(value, flag);
      return [];
    } catch (err) {
      return [`${where}: mtc-batch ${command} ${flag} ${value}: ${(err as Error).message}`];
    }
  }
  if (new RegExp(`^ {2}(?:-\\w, )?${flag} <n>`, 'm').test(help) && !/^\d+$/.test(value)) {
    return [`${where}: ${flag} of mtc-batch ${command} takes a whole number; got "${value}"`];
  }
  return [];
}

/** Problems with environment variables handed to mtc-batch: unknown names, and values their setting rejects. */
export function envProblems(vars: Record<string, unknown>, where: string): string[] {
  const problems: string[] = [];
  for (const [name, value] of Object.entries(vars)) {
    if (!knownEnv.has(name)) {
      problems.push(`${where}: ${name} is not an mtc-batch setting (known: ${[...knownEnv].join(', ')})`);
      continue;
    }
    if (typeof value !== 'string') {
      problems.push(`${where}: ${name} must be a string (quote it in YAML); got ${JSON.stringify(value)}`);
      continue;
    }
    const setting = settings.find((s) => s.env === name);
    try {
      setting?.parse(value, name);
    } catch (err) {
      problems.push(`${where}: ${(err as Error).message}`);
    }
  }
  return problems;
}

// ---- the Kubernetes manifests ----

export interface Manifest {
  file: string;
  doc: Obj;
}

export function loadManifests(): { files: string[]; manifests: Manifest[]; problems: string[] } {
  const files = readdirSync(k8sDir).filter((f) => /\.ya?ml$/.test(f)).sort();
  const manifests: Manifest[] = [];
  const problems: string[] = [];
  for (const file of files) {
    const docs = parseAllDocuments(readFileSync(new URL(file, k8sDir), 'utf8'));
    if ('empty' in docs) {
      problems.push(`cron/k8s/${file}: holds no YAML document`, ...docs.errors.map((e) => `cron/k8s/${file}: ${e.message}`));
      continue;
    }
    docs.forEach((doc, i) => {
      for (const e of [...doc.errors, ...doc.warnings]) problems.push(`cron/k8s/${file} (document ${i + 1}): ${e.message}`);
      const js: unknown = doc.toJS();
      if (js === null || js === undefined) return;
      if (!isObj(js)) problems.push(`cron/k8s/${file} (document ${i + 1}): not a mapping`);
      else manifests.push({ file: `cron/k8s/${file}`, doc: js });
    });
  }
  return { files, manifests, problems };
}

export const loaded = loadManifests();
export const named = (kind: string) =>
  new Map(loaded.manifests.filter((m) => m.doc.kind === kind).map((m) => [String(at(m.doc, 'metadata', 'name')), m.doc]));
export const configMaps = named('ConfigMap');
export const secrets = named('Secret');
export const claims = named('PersistentVolumeClaim');

export interface Workload {
  where: string;
  manifest: Manifest;
  jobSpec: unknown;
  podSpec: unknown;
  invocations: Invocation[];
}

export const workloads: Workload[] = loaded.manifests
  .filter((m) => m.doc.kind === 'CronJob' || m.doc.kind === 'Job')
  .map((manifest) => {
    const jobSpec = manifest.doc.kind === 'CronJob' ? at(manifest.doc, 'spec', 'jobTemplate', 'spec') : at(manifest.doc, 'spec');
    const podSpec = at(jobSpec, 'template', 'spec');
    const where = `${manifest.file} ${String(manifest.doc.kind)} ${String(at(manifest.doc, 'metadata', 'name'))}`;
    const invocations = list(at(podSpec, 'containers')).flatMap((c, i) => containerInvocations(c, `${where} container ${i}`).invocations);
    return { where, manifest, jobSpec, podSpec, invocations };
  });

/** Long-running pods (serve): Deployments, whose containers are checked like the jobs' and their probes besides. */
export const deployments: Workload[] = loaded.manifests
  .filter((m) => m.doc.kind === 'Deployment')
  .map((manifest) => {
    const jobSpec = at(manifest.doc, 'spec');
    const podSpec = at(jobSpec, 'template', 'spec');
    const where = `${manifest.file} Deployment ${String(at(manifest.doc, 'metadata', 'name'))}`;
    const invocations = list(at(podSpec, 'containers')).flatMap((c, i) => containerInvocations(c, `${where} container ${i}`).invocations);
    return { where, manifest, jobSpec, podSpec, invocations };
  });

export const services = named('Service');

/** What a call runs with for a setting: its flag, else the container's environment, else the default (each parsed as the CLI does). */
export function effectiveSetting(key: SettingKey, inv: Invocation, env: Record<string, string>): unknown {
  const spec = settings.find((s) => s.key === key)!;
  const i = inv.words.indexOf(flagName(key));
  if (i >= 0 && inv.words[i + 1] !== undefined) return spec.parse(inv.words[i + 1], flagName(key));
  if (env[spec.env] !== undefined) return spec.parse(env[spec.env], spec.env);
  return spec.default;
}

export function stepsOf(w: Workload): string[] {
  return w.invocations.map((inv) => inv.words[0] ?? '');
}

/** The variables a container sees from its ConfigMaps, Secrets and env list (later wins, as in Kubernetes). */
export function containerEnv(container: unknown): Record<string, string> {
  const env: Record<string, string> = {};
  for (const from of list(at(container, 'envFrom'))) {
    const cm = configMaps.get(String(at(from, 'configMapRef', 'name')));
    const secret = secrets.get(String(at(from, 'secretRef', 'name')));
    Object.assign(env, at(cm, 'data') ?? {}, at(secret, 'stringData') ?? {});
  }
  for (const e of list(at(container, 'env'))) if (typeof at(e, 'value') === 'string') env[String(at(e, 'name'))] = at(e, 'value') as string;
  return env;
}

/** The TTL an overdue-sync call uses: its flag, else the environment, else the default. */
export function ttlOf(inv: Invocation, env: Record<string, string>): number {
  const i = inv.words.indexOf('--ttl-seconds');
  const raw = i >= 0 ? inv.words[i + 1] : env[ttlEnv];
  return raw !== undefined ? Number(raw) : (settings.find((s) => s.env === ttlEnv)!.default as number);
}









// ---- the crontab ----

export interface CronLine {
  line: number;
  schedule: string;
  command: string;
}

export function loadCrontab(): { env: Record<string, string>; jobs: CronLine[]; problems: string[] } {
  const env: Record<string, string> = {};
  const jobs: CronLine[] = [];
  const problems: string[] = [];
  readFileSync(crontabPath, 'utf8')
    .split('\n')
    .forEach((text, i) => {
      const line = i + 1;
      const trimmed = text.trim();
      if (trimmed === '' || trimmed.startsWith('#')) return;
      const assignment = /^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(trimmed);
      if (assignment) {
        env[assignment[1]!] = assignment[2]!.replace(/^(["'])(.*)\1$/, '$2');
        return;
      }
      const job = /^(\S+\s+\S+\s+\S+\s+\S+\s+\S+)\s+(.+)$/.exec(trimmed);
      if (!job) problems.push(`cron/crontab:${line}: neither a comment, a variable nor "<5 schedule fields> <command>"`);
      else jobs.push({ line, schedule: job[1]!, command: job[2]! });
    });
  return { env, jobs, problems };
}

/** Problems cron itself would cause: a bad schedule, or a bare % (cron turns it into a newline). */
export function cronLineProblems(job: CronLine): string[] {
  const problems = cronProblems(job.schedule).map((p) => `cron/crontab:${job.line}: ${p}`);
  if (/(^|[^\\])%/.test(job.command)) problems.push(`cron/crontab:${job.line}: unescaped % in the command (cron turns it into a newline); write \\%`);
  return problems;
}

export function cronInvocations(job: CronLine): Invocation[] {
  return invocationsInScript(job.command.replace(/\\%/g, '%'), `cron/crontab:${job.line}`);
}

export const crontab = loadCrontab();



// ---- the Dockerfile ----

export interface Instruction {
  op: string;
  rest: string;
}

export function dockerStages(text: string): Instruction[][] {
  const stages: Instruction[][] = [];
  const logical = text
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n')
    .replace(/\\\n/g, ' ');
  for (const line of logical.split('\n')) {
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const ins = { op: m[1]!.toUpperCase(), rest: m[2]!.trim() };
    if (ins.op === 'FROM') stages.push([]);
    stages.at(-1)?.push(ins);
  }
  return stages;
}


// ---- the checkers catch what they are for ----

/**
 * The deployment files (cron/crontab, cron/k8s/*.yaml, Dockerfile) checked against the real
 * CLI: a renamed flag, a mistyped environment variable or a missing deadline fails here,
 * not at night in a CronJob that nobody watches. The checkers return problems rather than
 * assert, so the last tests can show they catch broken input.
 */
import test from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { Instruction, Obj, at, claims, configMaps, containerEnv, containerInvocations, cronEnv, cronInvocations, cronLineProblems, cronProblems, crontab, deployments, dockerStages, dockerfilePath, effectiveSetting, envProblems, intervalSeconds, invocationProblems, invocationsInScript, isObj, isWhole, list, loaded, noOverlapSteps, repo, scheduledSteps, secrets, services, stepsOf, ttlOf, workloads } from './helpers/deployment.js';

test('every document in cron/k8s/*.yaml parses and names its apiVersion, kind and metadata.name', (t) => {
  t.true(loaded.files.length > 0, 'cron/k8s holds no .yaml files');
  t.true(loaded.problems.length === 0, `YAML errors:\n  ${loaded.problems.join('\n  ')}`);
  for (const { file, doc } of loaded.manifests) {
    t.true(typeof doc.apiVersion === 'string' && typeof doc.kind === 'string', `${file}: a document without apiVersion or kind`);
    t.true(typeof at(doc, 'metadata', 'name') === 'string', `${file}: ${String(doc.kind)} without metadata.name`);
  }
  t.true(configMaps.size > 0, 'cron/k8s defines no ConfigMap');
  t.true(secrets.size > 0, 'cron/k8s defines no Secret (an example one is enough)');
});

test('a CronJob runs each scheduled step, and a Job runs migrate', (t) => {
  const byCron = new Set(workloads.filter((w) => w.manifest.doc.kind === 'CronJob').flatMap(stepsOf));
  for (const step of scheduledSteps) t.true(byCron.has(step), `cron/k8s: no CronJob runs "mtc-batch ${step}"`);
  const byJob = workloads.filter((w) => w.manifest.doc.kind === 'Job').flatMap(stepsOf);
  t.true(byJob.includes('migrate'), 'cron/k8s: no one-off Job runs "mtc-batch migrate"');
});

test('each CronJob and Job sets its schedule, overlap policy, deadlines, history and retries', (t) => {
  t.true(workloads.length > 0, 'cron/k8s holds no CronJob or Job');
  for (const w of workloads) {
    const { doc } = w.manifest;
    t.is(doc.apiVersion, 'batch/v1', `${w.where}: apiVersion must be batch/v1`);
    t.true(isWhole(at(w.jobSpec, 'activeDeadlineSeconds'), 1), `${w.where}: no activeDeadlineSeconds, so a hung run is never stopped`);
    t.true(isWhole(at(w.jobSpec, 'backoffLimit'), 0), `${w.where}: backoffLimit not set`);
    t.true(['Never', 'OnFailure'].includes(at(w.podSpec, 'restartPolicy') as string), `${w.where}: restartPolicy must be Never or OnFailure`);
    if (doc.kind !== 'CronJob') continue;
    const schedule = at(doc, 'spec', 'schedule');
    t.true(typeof schedule === 'string', `${w.where}: no spec.schedule`);
    const problems = cronProblems(String(schedule));
    t.true(problems.length === 0, `${w.where}: ${problems.join('; ')}`);
    const policy = at(doc, 'spec', 'concurrencyPolicy');
    t.true(['Allow', 'Forbid', 'Replace'].includes(policy as string), `${w.where}: concurrencyPolicy must be Allow, Forbid or Replace`);
    for (const step of stepsOf(w)) {
      if (noOverlapSteps.includes(step)) t.is(policy, 'Forbid', `${w.where}: overlapping ${step} runs waste work; concurrencyPolicy must be Forbid`);
    }
    // The controller looks about every 10 s: a shorter deadline can skip every run.
    t.true(isWhole(at(doc, 'spec', 'startingDeadlineSeconds'), 10), `${w.where}: startingDeadlineSeconds must be set, at least 10`);
    t.true(isWhole(at(doc, 'spec', 'successfulJobsHistoryLimit'), 0), `${w.where}: successfulJobsHistoryLimit not set`);
    t.true(isWhole(at(doc, 'spec', 'failedJobsHistoryLimit'), 0), `${w.where}: failedJobsHistoryLimit not set`);
  }
});

test('each container has the image, resources, configuration and volumes it needs', (t) => {
  const images = new Set<string>();
  for (const w of [...workloads, ...deployments]) {
    const containers = list(at(w.podSpec, 'containers'));
    t.true(containers.length > 0, `${w.where}: jobTemplate.spec.template.spec.containers is empty`);
    const volumes = new Map(list(at(w.podSpec, 'volumes')).map((v) => [String(at(v, 'name')), v]));
    for (const v of volumes.values()) {
      const claim = at(v, 'persistentVolumeClaim', 'claimName');
      if (claim !== undefined) t.true(claims.has(String(claim)), `${w.where}: volume ${String(at(v, 'name'))} uses claim ${String(claim)}, not defined in cron/k8s`);
    }
    containers.forEach((c, i) => {
      const where = `${w.where} container ${i}`;
      const image = at(c, 'image');
      t.true(typeof image === 'string' && image !== '', `${where}: no image`);
      images.add(String(image));
      for (const r of ['cpu', 'memory']) t.true(at(c, 'resources', 'requests', r) !== undefined, `${where}: resources.requests.${r} not set`);
      t.true(at(c, 'resources', 'limits', 'memory') !== undefined, `${where}: resources.limits.memory not set`);
      const envFrom = list(at(c, 'envFrom'));
      const cmRefs = envFrom.map((e) => at(e, 'configMapRef', 'name')).filter((n) => n !== undefined);
      const secretRefs = envFrom.map((e) => at(e, 'secretRef', 'name')).filter((n) => n !== undefined);
      t.true(cmRefs.length > 0 && cmRefs.every((n) => configMaps.has(String(n))), `${where}: envFrom must reference a ConfigMap defined in cron/k8s; got ${JSON.stringify(cmRefs)}`);
      t.true(secretRefs.length > 0 && secretRefs.every((n) => secrets.has(String(n))), `${where}: envFrom must reference a Secret defined in cron/k8s; got ${JSON.stringify(secretRefs)}`);
      for (const m of list(at(c, 'volumeMounts'))) t.true(volumes.has(String(at(m, 'name'))), `${where}: mounts volume ${String(at(m, 'name'))}, which the pod does not define`);
      const env = Object.fromEntries(list(at(c, 'env')).map((e) => [String(at(e, 'name')), at(e, 'value')]));
      const problems = envProblems(env, `${where} env`);
      t.true(problems.length === 0, problems.join('\n'));
    });
  }
  t.is(images.size, 1, `cron/k8s: every container should run the one mtc-batch image; got ${[...images].join(', ')}`);
  t.true([...images].every((i) => /^([\w.-]+(:\d+)?\/)*mtc-batch(:[\w.-]+|@sha256:[0-9a-f]{64})?$/.test(i)), `cron/k8s: the image must be mtc-batch built from the Dockerfile; got ${[...images].join(', ')}`);
});

test('process pods get time to stop cleanly: terminationGracePeriodSeconds of at least 30', (t) => {
  const processing = workloads.filter((w) => stepsOf(w).includes('process'));
  t.true(processing.length > 0, 'cron/k8s: nothing runs mtc-batch process');
  for (const w of processing) {
    t.true(isWhole(at(w.podSpec, 'terminationGracePeriodSeconds'), 30), `${w.where}: process finishes or releases its batches within 25 s of SIGTERM; terminationGracePeriodSeconds must be >= 30`);
  }
});

test('every mtc-batch call in the manifests names a real command and flags it accepts', (t) => {
  for (const w of [...workloads, ...deployments]) {
    list(at(w.podSpec, 'containers')).forEach((c, i) => {
      const { invocations, problems } = containerInvocations(c, `${w.where} container ${i}`);
      t.true(problems.length === 0, problems.join('\n'));
      for (const inv of invocations) {
        const found = invocationProblems(inv);
        t.true(found.length === 0, found.join('\n'));
      }
    });
  }
});

test('the ConfigMap and Secret set only real mtc-batch variables, with valid values', (t) => {
  for (const [name, cm] of configMaps) {
    const problems = envProblems(isObj(at(cm, 'data')) ? (at(cm, 'data') as Obj) : {}, `ConfigMap ${name}`);
    t.true(problems.length === 0, problems.join('\n'));
    t.is(at(cm, 'data', 'MTC_BATCH_LOG_FORMAT'), 'json', `ConfigMap ${name}: MTC_BATCH_LOG_FORMAT should be json, for the log collector`);
    t.is(at(cm, 'data', 'MTC_BATCH_NOTIFICATION_FORMAT'), 'mtc', `ConfigMap ${name}: MTC_BATCH_NOTIFICATION_FORMAT should be set, to mtc: the admin app reads MTC's cache envelope`);
  }
  for (const [name, secret] of secrets) {
    const data = Object.fromEntries(Object.entries(isObj(at(secret, 'data')) ? (at(secret, 'data') as Obj) : {}).map(([k, v]) => [k, Buffer.from(String(v), 'base64').toString('utf8')]));
    const all = { ...data, ...(isObj(at(secret, 'stringData')) ? (at(secret, 'stringData') as Obj) : {}) };
    const problems = envProblems(all, `Secret ${name}`);
    t.true(problems.length === 0, problems.join('\n'));
    for (const key of ['DATABASE_URL', 'REDIS_URL']) t.true(key in all, `Secret ${name}: no ${key}`);
  }
});

test('serve runs as a Deployment of 2+ replicas, reachable by its probes and a Service, with time to stop', (t) => {
  const serving = deployments.filter((d) => stepsOf(d).includes('serve'));
  t.true(serving.length > 0, 'cron/k8s: no Deployment runs "mtc-batch serve"');
  t.true(deployments.every((d) => stepsOf(d).every((step) => step === 'serve')), 'cron/k8s: only serve is long-running; the other steps are Jobs');
  for (const d of serving) {
    const { doc } = d.manifest;
    t.is(doc.apiVersion, 'apps/v1', `${d.where}: apiVersion must be apps/v1`);
    t.true(isWhole(at(doc, 'spec', 'replicas'), 2), `${d.where}: at least 2 replicas, so one pod's restart leaves the API answered`);
    const labels = (at(d.jobSpec, 'template', 'metadata', 'labels') ?? {}) as Obj;
    const selector = (at(d.jobSpec, 'selector', 'matchLabels') ?? {}) as Obj;
    t.true(Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v), `${d.where}: spec.selector.matchLabels must match the pod template's labels`);
    const [container] = list(at(d.podSpec, 'containers'));
    const [inv] = d.invocations;
    const env = containerEnv(container);
    const host = String(effectiveSetting('serveHost', inv!, env));
    const port = Number(effectiveSetting('servePort', inv!, env));
    t.true(['0.0.0.0', '::'].includes(host), `${d.where}: serve listens on ${host}; probes and the Service reach the pod's own address, so MTC_BATCH_SERVE_HOST must be 0.0.0.0`);
    const ports = list(at(container, 'ports'));
    const portOf = (ref: unknown) => ports.find((p) => at(p, 'name') === ref || at(p, 'containerPort') === ref);
    t.is(at(portOf(port), 'containerPort'), port, `${d.where}: serve listens on ${port}, which is not a containerPort`);
    for (const [probe, path] of [['readinessProbe', '/readyz'], ['livenessProbe', '/healthz']] as const) {
      t.is(at(container, probe, 'httpGet', 'path'), path, `${d.where}: ${probe} should GET ${path}`);
      t.is(at(portOf(at(container, probe, 'httpGet', 'port')), 'containerPort'), port, `${d.where}: ${probe} must target the port serve listens on (${port})`);
    }
    // serve cuts requests still running 20 s after SIGTERM and exits; a preStop pause comes first.
    const preStop = list(at(container, 'lifecycle', 'preStop', 'exec', 'command'));
    const pause = preStop[0] === 'sleep' ? Number(preStop[1]) : 0;
    t.true(isWhole(at(d.podSpec, 'terminationGracePeriodSeconds'), 30) && Number(at(d.podSpec, 'terminationGracePeriodSeconds')) >= pause + 21, `${d.where}: terminationGracePeriodSeconds must cover the ${pause} s preStop pause plus serve's 20 s stop`);
    const fronting = [...services.values()].filter((svc) => {
      const sel = (at(svc, 'spec', 'selector') ?? {}) as Obj;
      return Object.keys(sel).length > 0 && Object.entries(sel).every(([k, v]) => labels[k] === v);
    });
    t.true(fronting.length > 0, `${d.where}: no Service selects its pods`);
    for (const svc of fronting) {
      for (const p of list(at(svc, 'spec', 'ports'))) {
        t.is(at(portOf(at(p, 'targetPort')), 'containerPort'), port, `Service ${String(at(svc, 'metadata', 'name'))}: targetPort ${String(at(p, 'targetPort'))} is not the port serve listens on`);
      }
    }
  }
});

test('the overdue-sync CronJob runs more often than its notifications live', (t) => {
  const syncs = workloads.filter((w) => w.manifest.doc.kind === 'CronJob' && stepsOf(w).includes('overdue-sync'));
  t.true(syncs.length > 0, 'cron/k8s: no CronJob runs overdue-sync');
  for (const w of syncs) {
    const interval = intervalSeconds(String(at(w.manifest.doc, 'spec', 'schedule')));
    t.true(interval !== null, `${w.where}: cannot tell the interval of its schedule`);
    const env = containerEnv(at(w.podSpec, 'containers', 0));
    for (const inv of w.invocations) {
      const ttl = ttlOf(inv, env);
      t.true(interval !== null && ttl > interval, `${w.where}: notification TTL ${ttl} s must exceed the ${interval} s between runs, or entries vanish before the next run`);
    }
  }
});

test('cron/crontab: each line is a variable or a valid schedule and command', (t) => {
  t.true(crontab.problems.length === 0, crontab.problems.join('\n'));
  t.true(crontab.jobs.length > 0, 'cron/crontab holds no job lines');
  for (const job of crontab.jobs) {
    const problems = cronLineProblems(job);
    t.true(problems.length === 0, problems.join('\n'));
    t.true(cronInvocations(job).length > 0, `cron/crontab:${job.line}: the command never runs mtc-batch`);
  }
  const path = crontab.env.PATH ?? '';
  t.true(path.split(':').some((d) => ['/usr/local/bin', '/opt/mtc-batch/bin'].includes(d)), 'cron/crontab: PATH must include where mtc-batch is installed (cron sets a minimal PATH)');
  const settingsEnv = Object.fromEntries(Object.entries(crontab.env).filter(([k]) => !cronEnv.has(k)));
  const problems = envProblems(settingsEnv, 'cron/crontab');
  t.true(problems.length === 0, problems.join('\n'));
});

test('cron/crontab: every mtc-batch call names a real command and flags it accepts', (t) => {
  const steps = new Set<string>();
  for (const job of crontab.jobs) {
    for (const inv of cronInvocations(job)) {
      steps.add(inv.words[0] ?? '');
      const problems = invocationProblems(inv);
      t.true(problems.length === 0, problems.join('\n'));
      if (['dispatch', 'process'].includes(inv.words[0] ?? '')) {
        t.regex(job.command, /\bflock -n\b/, `cron/crontab:${job.line}: ${inv.words[0]} runs every minute and may outlast it; wrap it in flock -n`);
      }
      if (inv.words[0] === 'overdue-sync') {
        const interval = intervalSeconds(job.schedule);
        const ttl = ttlOf(inv, crontab.env);
        t.true(interval !== null && ttl > interval, `cron/crontab:${job.line}: notification TTL ${ttl} s must exceed the ${String(interval)} s between overdue-sync runs`);
      }
    }
  }
  for (const step of scheduledSteps) t.true(steps.has(step), `cron/crontab: no line runs "mtc-batch ${step}"`);
});

test('the Dockerfile builds in one stage and runs the CLI the manifests call, as non-root, in a slim one', (t) => {
  t.true(existsSync(dockerfilePath), 'Dockerfile: missing at the repository root');
  const stages = dockerStages(readFileSync(dockerfilePath, 'utf8'));
  t.true(stages.length >= 2, 'Dockerfile: needs a build stage and a runtime stage');
  const runtime = stages.at(-1) ?? [];
  const build = stages.slice(0, -1);
  const ops = (stage: Instruction[], op: string) => stage.filter((i) => i.op === op).map((i) => i.rest);
  t.regex(runtime[0]?.rest ?? '', /^node:20-bookworm-slim\b/, 'Dockerfile: the runtime stage should be FROM node:20-bookworm-slim');
  const buildRuns = build.flatMap((s) => ops(s, 'RUN')).join('\n');
  for (const step of [/npm ci\b/, /npm run build\b/, /npm ci --omit=dev\b/]) t.regex(buildRuns, step, `Dockerfile: the build stage does not run ${step.source}`);

  const user = ops(runtime, 'USER').at(-1);
  t.true(user !== undefined && !/^(root|0)(:|$)/.test(user), 'Dockerfile: the runtime stage must switch to a non-root USER');
  t.true(user !== undefined && /^\d+(:\d+)?$/.test(user), `Dockerfile: USER should be numeric (got ${String(user)}), or Kubernetes cannot check runAsNonRoot`);
  t.true(ops(runtime, 'ENV').some((e) => /\bMTC_BATCH_LOG_FORMAT=json\b/.test(e)), 'Dockerfile: the runtime stage should set MTC_BATCH_LOG_FORMAT=json');

  const workdir = ops(runtime, 'WORKDIR').at(-1) ?? '/';
  const copied = ops(runtime, 'COPY').map((c) => {
    const parts = c.split(/\s+/).filter((p) => !p.startsWith('--'));
    const dest = parts.at(-1)!;
    return { from: parts.slice(0, -1), dest: dest.startsWith('/') ? dest : `${workdir}/${dest.replace(/^\.\//, '')}`.replace(/\/+$/, '') };
  });
  for (const part of ['package.json', 'node_modules', 'dist/src', 'bin', 'sql']) {
    t.true(copied.some((c) => c.dest === `${workdir}/${part}`), `Dockerfile: the runtime stage does not copy ${part} to ${workdir}/${part}`);
  }
  const launcher = `${workdir}/bin/mtc-batch`;
  const runtimeRuns = ops(runtime, 'RUN').join('\n');
  // The start-up snapshot must be made by the runtime stage's own node, or the launcher
  // never uses it (it checks the node binary) and every command starts ~90 ms slower.
  t.true(copied.some((c) => c.dest === `${workdir}/dist/snapshot/entry.cjs`), 'Dockerfile: the runtime stage does not copy dist/snapshot/entry.cjs');
  t.regex(runtimeRuns, new RegExp(`node \\S*snapshot\\.mjs ${workdir}\\b`), 'Dockerfile: the runtime stage does not make the start-up snapshot (node build/snapshot.mjs <dir>)');
  const onPath = new RegExp(`ln -sf? ${launcher.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} /usr/local/bin/mtc-batch\\b`).test(runtimeRuns);
  const entrypoint = JSON.parse(ops(runtime, 'ENTRYPOINT').at(-1) ?? 'null') as unknown;
  t.true(
    (onPath && JSON.stringify(entrypoint) === '["mtc-batch"]') || JSON.stringify(entrypoint) === JSON.stringify(['node', launcher]),
    `Dockerfile: ENTRYPOINT should be ["mtc-batch"] (linked from ${launcher}) or ["node", "${launcher}"]; got ${JSON.stringify(entrypoint)}`,
  );
  const callsByName = workloads.some((w) => w.invocations.length > 0);
  t.true(!callsByName || onPath, `Dockerfile: the manifests run "mtc-batch" by name, so the image must link ${launcher} into /usr/local/bin`);

  for (const stage of build) {
    for (const c of ops(stage, 'COPY').filter((c) => !c.includes('--from'))) {
      for (const source of c.split(/\s+/).slice(0, -1)) {
        t.true(source === '.' || existsSync(new URL(source, repo)), `Dockerfile: COPY ${source}: no such file in the repository`);
      }
    }
  }
  const ignore = existsSync(new URL('.dockerignore', repo)) ? readFileSync(new URL('.dockerignore', repo), 'utf8').split('\n').map((l) => l.trim()) : [];
  for (const entry of ['node_modules', 'dist', '.git']) t.true(ignore.includes(entry), `.dockerignore: should exclude ${entry}`);
});

test('the checks reject a wrong flag, command, value, schedule, variable or bare %', (t) => {
  const where = 'example';
  t.true(invocationProblems({ where, words: ['dispatch', '--batches', '10'] }).length === 0, 'a valid call was rejected');
  t.regex(invocationProblems({ where, words: ['dispatch', '--batchs', '10'] }).join(), /does not accept --batchs/);
  t.regex(invocationProblems({ where, words: ['dispatch', '--wait-seconds', '10'] }).join(), /does not accept --wait-seconds/);
  t.regex(invocationProblems({ where, words: ['dispach'] }).join(), /not a command/);
  t.regex(invocationProblems({ where, words: ['process', '--max'] }).join(), /needs a value/);
  t.regex(invocationProblems({ where, words: ['process', '--max', 'lots'] }).join(), /takes a whole number/);
  t.regex(invocationProblems({ where, words: ['overdue-sync', '--ttl-seconds', '5'] }).join(), /from 60 to/);
  t.regex(invocationProblems({ where, words: ['overdue-sync', 'now'] }).join(), /unexpected argument/);
  t.regex(cronProblems('61 * * * *').join(), /minute field/);
  t.regex(cronProblems('* * * *').join(), /not 5/);
  t.is(intervalSeconds('5 * * * *'), 3600);
  t.is(intervalSeconds('*/15 * * * *'), 900);
  t.regex(envProblems({ MTC_BATCH_BATCHSIZE: '10' }, where).join(), /not an mtc-batch setting/);
  t.regex(envProblems({ MTC_BATCH_BATCH_SIZE: 10 }, where).join(), /must be a string/);
  t.regex(envProblems({ MTC_BATCH_LOG_FORMAT: 'jsno' }, where).join(), /must be one of/);
  t.regex(cronLineProblems({ line: 1, schedule: '* * * * *', command: 'mtc-batch status > $(date +%s).log' }).join(), /unescaped %/);
  const script = invocationsInScript('cd /opt/mtc-batch && flock -n x.lock mtc-batch process --max 5 2>&1 | logger -t x', where);
  t.deepEqual(script.map((i) => i.words), [['process', '--max', '5']]);
});

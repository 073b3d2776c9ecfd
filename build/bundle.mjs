// The command-line program as a few bundled files (dist/bundle/), built after tsc by
// `npm run build`. Loading ~500 small modules one by one (resolve, stat, read, wrap,
// compile each) was most of a one-shot command's start-up; a bundle loads as one file
// per part, and each command's code and its libraries still load only when it runs
// (dynamic imports become separate chunks). Database drivers stay outside: the one in
// use is loaded when a connection is opened.
import { readFile } from 'node:fs/promises';
import { build } from 'esbuild';
import { makeSnapshot } from './snapshot.mjs';

/**
 * pg decides at load whether it runs in a Cloudflare Worker by creating a fetch Response,
 * which makes Node load its whole HTTP/2, zlib, worker and web-streams stack (~15 ms of
 * every command's start-up). This program runs on Node only: the probe's second test is
 * turned off in the bundle. The build fails if pg's code no longer reads as expected.
 */
const pgOnNode = {
  name: 'pg-on-node',
  setup(b) {
    b.onLoad({ filter: /node_modules[\\/]pg[\\/]lib[\\/]stream\.js$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      const probe = "if (typeof Response === 'function') {";
      if (!source.includes(probe)) throw new Error(`${args.path}: pg's Cloudflare probe changed; review build/bundle.mjs`);
      return { contents: source.replace(probe, 'if (false) {'), loader: 'js' };
    });
  },
};

// pg is pure JavaScript and bundled (loaded on first use, like the rest); its optional
// native binding and the others are not installed or are native.
const drivers = ['pg-native', 'pg-cloudflare', 'pg-query-stream', 'better-sqlite3', 'tedious', 'mysql', 'mysql2', 'mariadb', 'mariadb/callback', 'oracledb', 'sqlite3'];

/**
 * knex lists every dialect it knows; the toolkit uses three. The others (with their query
 * compilers, ~200 KB) are left out of the bundle, so no command parses them at start-up.
 */
const unusedDialects = ['mysql', 'mysql2', 'oracle', 'oracledb', 'cockroachdb', 'redshift', 'pgnative'];
const onlyOurDialects = {
  name: 'only-our-dialects',
  setup(b) {
    const filter = new RegExp(`node_modules[\\\\/]knex[\\\\/]lib[\\\\/]dialects[\\\\/](${unusedDialects.join('|')})[\\\\/]index\\.js$`);
    b.onLoad({ filter }, (args) => ({
      contents: `throw new Error(${JSON.stringify(`mtc-batch is built with knex's sqlite, postgres and mssql dialects only (not ${args.path})`)});`,
      loader: 'js',
    }));
  },
};

await build({
  entryPoints: ['dist/src/cli/bin-main.js'],
  outdir: 'dist/bundle',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // cli-progress is loaded (by require) only when a bar is drawn.
  external: [...drivers, 'cli-progress'],
  // The bundle is ESM; the CommonJS libraries inside it require() the drivers and Node's modules.
  banner: { js: "import { createRequire as __mtcCreateRequire } from 'node:module'; const require = __mtcCreateRequire(import.meta.url);" },
  logLevel: 'warning',
  legalComments: 'none',
  plugins: [pgOnNode, onlyOurDialects],
});

// The start-up snapshot (see src/cli/snapshot-main.ts and build/snapshot.mjs): the same
// program as one CommonJS file, whose loading `node --build-snapshot` runs once, here.
// Three differences from the bundle above, because a snapshot is built in one process and
// run in another:
//   - the modules left out (native drivers, cli-progress) are required when first used,
//     from where the program runs, through a require() the entry point sets at run time;
//   - node:tls is reached through a stand-in that loads it when first used (Node cannot
//     put it in a snapshot; pg and ioredis only use it to open TLS connections);
//   - import.meta.url is where the program runs, also set at run time.
const runtimeRequire = {
  name: 'runtime-require',
  setup(b) {
    const names = [...drivers, 'cli-progress'];
    const filter = new RegExp(`^(${names.map((n) => n.replace(/[/.]/g, (c) => `\\${c}`)).join('|')}|(node:)?tls)$`);
    b.onResolve({ filter }, (args) => ({ path: args.path.replace(/^node:/, ''), namespace: 'runtime-require' }));
    b.onLoad({ filter: /.*/, namespace: 'runtime-require' }, (args) => ({
      contents:
        args.path === 'tls'
          ? "const load = () => globalThis.__mtcRequire('node:tls'); module.exports = new Proxy({}, { get: (_, k) => load()[k], has: (_, k) => k in load() });"
          : `module.exports = globalThis.__mtcRequire(${JSON.stringify(args.path)});`,
      loader: 'js',
    }));
  },
};

await build({
  entryPoints: ['dist/src/cli/snapshot-main.js'],
  outfile: 'dist/snapshot/entry.cjs',
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  define: { 'import.meta.url': 'globalThis.__mtcModuleUrl' },
  // Smaller source is a smaller snapshot (8.3 against 13.1 MB), and a faster start where
  // each page of fresh memory is costly. Names are kept, so messages read the same; the
  // bundle above (what DEBUG runs) stays readable for stack traces.
  minifyWhitespace: true,
  minifySyntax: true,
  banner: { js: "globalThis.__mtcModuleUrl = require('node:url').pathToFileURL(__filename).href; globalThis.__mtcRequire = require;" },
  logLevel: 'warning',
  legalComments: 'none',
  plugins: [pgOnNode, onlyOurDialects, runtimeRequire],
});
makeSnapshot('.');

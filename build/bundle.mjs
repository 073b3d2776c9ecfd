// The command-line program as a few bundled files (dist/bundle/), built after tsc by
// `npm run build`. Loading ~500 small modules one by one (resolve, stat, read, wrap,
// compile each) was most of a one-shot command's start-up; a bundle loads as one file
// per part, and each command's code and its libraries still load only when it runs
// (dynamic imports become separate chunks). Database drivers stay outside: the one in
// use is loaded from node_modules when a connection is opened.
import { build } from 'esbuild';

const drivers = ['pg', 'pg-native', 'pg-query-stream', 'better-sqlite3', 'tedious', 'mysql', 'mysql2', 'mariadb', 'mariadb/callback', 'oracledb', 'sqlite3'];

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
});

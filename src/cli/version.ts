import { readFileSync } from 'node:fs';

/**
 * The package version, from the package.json above this file (dist/src/cli or, bundled,
 * dist/bundle: the nearest one named mtc-batch).
 */
export const version: string = (() => {
  for (let dir = new URL('./', import.meta.url); dir.pathname !== '/'; dir = new URL('../', dir)) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'mtc-batch') return pkg.version ?? '0.0.0';
    } catch {
      // not here: look further up
    }
  }
  return '0.0.0';
})();

/** `npm run sql`: regenerates sql/*.sql from the migrations. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { allGrantFiles } from './grants.js';
import { allSchemaSql } from './schema-sql.js';

const dir = process.argv[2] ?? 'sql';
for (const { file, sql } of [...allSchemaSql(), ...allGrantFiles()]) {
  writeFileSync(join(dir, file), sql);
  process.stdout.write(`wrote ${join(dir, file)}\n`);
}

import { randomUUID } from 'node:crypto';
import { insertContent, readContent, replaceContent } from '../src/rescope/content-table.js';
import { learners } from '../src/seed/course-world.js';
import { eachDialect } from './helpers/databases.js';
import { rescopeFixture } from './helpers/rescope.js';

// PostgreSQL binds a batch's documents as one text split at line feeds when none holds
// one, and as an array otherwise; either way each document is stored exactly as given.
eachDialect('content documents are stored exactly as given, with or without line feeds', async (t, dialect) => {
  const f = await rescopeFixture(t, dialect);
  const course = randomUUID();
  const [a, b, c, d] = learners(4) as [string, string, string, string];
  const plain = [
    { userId: a, courseId: course, classId: null, json: '{"units":[],"lessons":["x"]}' },
    { userId: b, courseId: course, classId: null, json: '{"s":"a\\nb \\u2028 ü \\" \\\\ ,{}"}' },
  ];
  t.is(await insertContent(f.db.knex, f.db.dialect, plain, { ignoreDuplicates: false }), 2);
  const pretty = [
    { userId: c, courseId: course, classId: null, json: '{\n  "units": [],\n  "lessons": []\n}' },
    { userId: d, courseId: course, classId: null, json: '{"one":"line"}' },
  ];
  t.is(await insertContent(f.db.knex, f.db.dialect, pretty, { ignoreDuplicates: true }), 2);
  for (const row of [...plain, ...pretty]) t.is(await readContent(f.db, row), row.json);

  const replaced = [
    { ...plain[0]!, json: '{\n"replaced": true\n}' },
    { ...pretty[1]!, json: '{"replaced":true}' },
  ];
  t.is(await replaceContent(f.db.knex, f.db.dialect, replaced), 2);
  for (const row of replaced) t.is(await readContent(f.db, row), row.json);
  t.is(await readContent(f.db, plain[1]!), plain[1]!.json);
});

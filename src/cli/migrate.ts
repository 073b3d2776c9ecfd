import type { CommandSpec } from './command.js';

interface MigrateOptions {
  ownedOnly?: boolean;
}

export const migrateCommand: CommandSpec<MigrateOptions> = {
  name: 'migrate',
  summary: 'create or update the database schema (running it again is a no-op)',
  description:
    'Creates or updates the schema. Safe to run again, and safe to run from two places at once: the second run waits for the first and then finds nothing to do.\n' +
    'The statements are the ones in sql/<dialect>.sql.',
  settings: ['databaseUrl', 'databaseSchema', 'logFormat', 'logLevel'],
  database: 'create',
  configure(cmd) {
    cmd.option('--owned-only', "create only mtc-batch's own tables (rescope_queue, rescoped_content), not the reference tables other systems own");
  },
  async run({ runtime, log }, opts) {
    const { migrate } = await import('../db/migrate.js');
    const db = await runtime.db();
    const result = await migrate(db, { ownedOnly: opts.ownedOnly === true, log });
    // Two schemas of one database are two systems: say which one was changed.
    const target = db.schema ? `schema ${db.schema} of ${db.display}` : db.display;
    const lines = [
      result.applied.length > 0
        ? `applied ${result.applied.length} migration${result.applied.length > 1 ? 's' : ''} to ${target}: ${result.applied.join(', ')}`
        : `${target} is up to date; nothing to apply`,
    ];
    if (result.skipped.length > 0) lines.push(`left out (--owned-only): ${result.skipped.join(', ')}`);
    return { result: { dialect: db.dialect.name, schema: db.schema, ...result }, human: lines.join('\n') };
  },
};

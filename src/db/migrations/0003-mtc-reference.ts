import type { Migration } from './migration.js';
import { ddl } from './migration.js';

/**
 * The MTC tables the notifications read, with the original column names. `check` is a
 * reserved word: knex quotes every identifier, and hand-written SQL must too.
 * `currentCheckId` and `attendanceId` have no foreign keys: the pupil/check pair is
 * circular, and the attendance codes live outside this model.
 *
 * The check indexes are partial: only checks not yet received (by login date) and checks
 * that failed processing can concern a school, and they are few among all checks. Two
 * simple predicates rather than one with OR, which SQL Server's filtered indexes refuse.
 */
export const mtcReference: Migration = {
  name: '0003_mtc_reference',
  group: 'reference',
  description: 'school, pupil, check',
  statements: (k, d) => [
    ...ddl(
      k.schema
        .createTable('school', (t) => {
          t.increments('id').primary();
          t.uuid('urlSlug').notNullable().unique({ indexName: 'school_urlslug_uq' });
          t.string('name', 255).notNullable();
        })
        .createTable('pupil', (t) => {
          t.increments('id').primary();
          t.integer('school_id').unsigned().notNullable().references('id').inTable('school');
          t.uuid('urlSlug').notNullable().unique({ indexName: 'pupil_urlslug_uq' });
          t.integer('currentCheckId').nullable();
          t.integer('attendanceId').nullable();
          t.index(['currentCheckId'], 'pupil_current_check_ix');
          t.index(['school_id'], 'pupil_school_ix');
        })
        .createTable('check', (t) => {
          t.increments('id').primary();
          t.integer('pupil_id').unsigned().notNullable().references('id').inTable('pupil');
          t.uuid('checkCode').notNullable().unique({ indexName: 'check_checkcode_uq' });
          t.boolean('isLiveCheck').notNullable().defaultTo(true);
          t.timestamp('pupilLoginDate').nullable();
          t.boolean('received').notNullable().defaultTo(false);
          t.boolean('complete').notNullable().defaultTo(false);
          t.boolean('processingFailed').notNullable().defaultTo(false);
          t.index(['pupilLoginDate'], 'check_login_date_ix', {
            predicate: k.whereRaw(`?? = ${d.booleanLiteral(false)} AND ?? = ${d.booleanLiteral(true)}`, ['received', 'isLiveCheck']),
          });
          t.index(['id'], 'check_processing_failed_ix', { predicate: k.whereRaw(`?? = ${d.booleanLiteral(true)}`, ['processingFailed']) });
          t.index(['pupil_id'], 'check_pupil_ix');
        }),
    ),
  ],
};

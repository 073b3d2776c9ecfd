import type { Migration } from './migration.js';
import { ddl } from './migration.js';
import { rebuildWithUuidCollation } from './uuid-collation.js';

/**
 * SQLite only: the MTC tables' UUIDs (school and pupil `urlSlug`, `checkCode`) compare
 * case-insensitively, as on SQL Server, so a check code in a message matches whatever
 * case the check was stored in. Rows are copied as they are; ids counters are kept.
 */
export const mtcUuidCollation: Migration = {
  name: '0007_mtc_uuid_collation',
  group: 'reference',
  description: 'SQLite: school, pupil and check compare ids case-insensitively',
  statements: (k, d) => {
    if (!d.uuidTextCollation) return [];
    return [
      'PRAGMA defer_foreign_keys = ON',
      ...rebuildWithUuidCollation(k, d, {
        table: 'school',
        define(t, uuid) {
          t.increments('id').primary();
          uuid('urlSlug').notNullable();
          t.string('name', 255).notNullable();
        },
        columns: ['id', 'urlSlug', 'name'],
        autoincrement: true,
        indexes: () => ddl(k.schema.alterTable('school', (t) => t.unique(['urlSlug'], { indexName: 'school_urlslug_uq' }))),
      }),
      ...rebuildWithUuidCollation(k, d, {
        table: 'pupil',
        define(t, uuid) {
          t.increments('id').primary();
          t.integer('school_id').unsigned().notNullable().references('id').inTable('school');
          uuid('urlSlug').notNullable();
          t.integer('currentCheckId').nullable();
          t.integer('attendanceId').nullable();
        },
        columns: ['id', 'school_id', 'urlSlug', 'currentCheckId', 'attendanceId'],
        autoincrement: true,
        indexes: () =>
          ddl(
            k.schema.alterTable('pupil', (t) => {
              t.unique(['urlSlug'], { indexName: 'pupil_urlslug_uq' });
              t.index(['currentCheckId'], 'pupil_current_check_ix');
              t.index(['school_id'], 'pupil_school_ix');
            }),
          ),
      }),
      ...rebuildWithUuidCollation(k, d, {
        table: 'check',
        define(t, uuid) {
          t.increments('id').primary();
          t.integer('pupil_id').unsigned().notNullable().references('id').inTable('pupil');
          uuid('checkCode').notNullable();
          t.boolean('isLiveCheck').notNullable().defaultTo(true);
          t.timestamp('pupilLoginDate').nullable();
          t.boolean('received').notNullable().defaultTo(false);
          t.boolean('complete').notNullable().defaultTo(false);
          t.boolean('processingFailed').notNullable().defaultTo(false);
        },
        columns: ['id', 'pupil_id', 'checkCode', 'isLiveCheck', 'pupilLoginDate', 'received', 'complete', 'processingFailed'],
        autoincrement: true,
        indexes: () =>
          ddl(
            k.schema.alterTable('check', (t) => {
              t.unique(['checkCode'], { indexName: 'check_checkcode_uq' });
              t.index(['pupilLoginDate'], 'check_login_date_ix', {
                predicate: k.whereRaw(`?? = ${d.booleanLiteral(false)} AND ?? = ${d.booleanLiteral(true)}`, ['received', 'isLiveCheck']),
              });
              t.index(['id'], 'check_processing_failed_ix', { predicate: k.whereRaw(`?? = ${d.booleanLiteral(true)}`, ['processingFailed']) });
              t.index(['pupil_id'], 'check_pupil_ix');
            }),
          ),
      }),
    ];
  },
};

import type { Migration } from './migration.js';
import { ddl } from './migration.js';
import { rebuildWithUuidCollation } from './uuid-collation.js';

/**
 * SQLite only: the rescope reference tables' UUID columns compare case-insensitively, so
 * ids the surrounding systems stored upper-case match the lower-case ids of requests,
 * sessions and our own tables. The rows are copied as they are (these tables are not
 * ours to rewrite); two ids differing only by case in one key make the copy fail, and
 * with it the whole migration, rather than lose a row. Foreign keys are checked at
 * commit, when every table is back under its name.
 */
export const referenceUuidCollation: Migration = {
  name: '0006_reference_uuid_collation',
  group: 'reference',
  description: 'SQLite: course, class and competency tables compare ids case-insensitively',
  statements: (k, d) => {
    if (!d.uuidTextCollation) return [];
    return [
      'PRAGMA defer_foreign_keys = ON',
      ...rebuildWithUuidCollation(k, d, {
        table: 'course',
        define(t, uuid) {
          uuid('id').primary();
          t.string('title', 500).nullable();
          t.string('version', 64).nullable();
          t.boolean('is_deleted').notNullable().defaultTo(false);
        },
        columns: ['id', 'title', 'version', 'is_deleted'],
        indexes: () => [],
      }),
      ...rebuildWithUuidCollation(k, d, {
        table: 'course_item',
        define(t, uuid) {
          uuid('id').primary();
          uuid('course_id').notNullable().references('id').inTable('course');
          uuid('unit_id').notNullable();
          uuid('lesson_id').notNullable();
          t.string('format', 32).notNullable();
          t.integer('sequence').notNullable().defaultTo(0);
          t.boolean('is_deleted').notNullable().defaultTo(false);
        },
        columns: ['id', 'course_id', 'unit_id', 'lesson_id', 'format', 'sequence', 'is_deleted'],
        indexes: () => ddl(k.schema.alterTable('course_item', (t) => t.index(['course_id'], 'course_item_course_ix'))),
      }),
      ...rebuildWithUuidCollation(k, d, {
        table: 'course_item_competency',
        define(t, uuid) {
          uuid('item_id').notNullable().references('id').inTable('course_item');
          t.string('competency_code', 128).notNullable();
          t.primary(['item_id', 'competency_code']);
        },
        columns: ['item_id', 'competency_code'],
        indexes: () => ddl(k.schema.alterTable('course_item_competency', (t) => t.index(['competency_code'], 'course_item_competency_code_ix'))),
      }),
      ...rebuildWithUuidCollation(k, d, {
        table: 'class',
        define(t, uuid) {
          uuid('id').primary();
          uuid('course_id').nullable();
          uuid('creator_id').notNullable();
          t.boolean('rescope').notNullable().defaultTo(false);
          t.boolean('is_deleted').notNullable().defaultTo(false);
          t.boolean('is_archived').notNullable().defaultTo(false);
        },
        columns: ['id', 'course_id', 'creator_id', 'rescope', 'is_deleted', 'is_archived'],
        indexes: () => [],
      }),
      ...rebuildWithUuidCollation(k, d, {
        table: 'class_collaborator',
        define(t, uuid) {
          uuid('class_id').notNullable().references('id').inTable('class');
          uuid('user_id').notNullable();
          t.primary(['class_id', 'user_id']);
        },
        columns: ['class_id', 'user_id'],
        indexes: () => [],
      }),
      ...rebuildWithUuidCollation(k, d, {
        table: 'class_member',
        define(t, uuid) {
          uuid('class_id').notNullable().references('id').inTable('class');
          uuid('user_id').notNullable();
          t.boolean('is_active').notNullable().defaultTo(true);
          t.primary(['class_id', 'user_id']);
        },
        columns: ['class_id', 'user_id', 'is_active'],
        indexes: () => [],
      }),
      ...rebuildWithUuidCollation(k, d, {
        table: 'user_competency_status',
        define(t, uuid) {
          uuid('user_id').notNullable();
          t.string('competency_code', 128).notNullable();
          t.string('status', 16).notNullable();
        },
        columns: ['user_id', 'competency_code', 'status'],
        indexes: () => d.coveringPrimaryKeySql('user_competency_status', 'user_competency_status_pkey', ['user_id', 'competency_code'], ['status']),
      }),
    ];
  },
};

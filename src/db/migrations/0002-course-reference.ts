import type { Migration } from './migration.js';
import { ddl } from './migration.js';

/**
 * Courses, classes and the competency store, named as in the original systems. The
 * competency store's key carries `status`, so a batch's statuses are read from the index
 * alone (on PostgreSQL after VACUUM has marked the pages all-visible).
 */
export const courseReference: Migration = {
  name: '0002_course_reference',
  group: 'reference',
  description: 'course, course_item, course_item_competency, class, class_collaborator, class_member, user_competency_status',
  statements: (k, d) => [
    ...ddl(
      k.schema
        .createTable('course', (t) => {
          t.uuid('id').primary();
          t.string('title', 500).nullable();
          t.string('version', 64).nullable();
          t.boolean('is_deleted').notNullable().defaultTo(false);
        })
        .createTable('course_item', (t) => {
          t.uuid('id').primary();
          t.uuid('course_id').notNullable().references('id').inTable('course');
          t.uuid('unit_id').notNullable();
          t.uuid('lesson_id').notNullable();
          t.string('format', 32).notNullable();
          t.integer('sequence').notNullable().defaultTo(0);
          t.boolean('is_deleted').notNullable().defaultTo(false);
          t.index(['course_id'], 'course_item_course_ix');
        })
        .createTable('course_item_competency', (t) => {
          t.uuid('item_id').notNullable().references('id').inTable('course_item');
          t.string('competency_code', 128).notNullable();
          t.primary(['item_id', 'competency_code']);
          t.index(['competency_code'], 'course_item_competency_code_ix');
        })
        .createTable('class', (t) => {
          t.uuid('id').primary();
          t.uuid('course_id').nullable();
          t.uuid('creator_id').notNullable();
          t.boolean('rescope').notNullable().defaultTo(false);
          t.boolean('is_deleted').notNullable().defaultTo(false);
          t.boolean('is_archived').notNullable().defaultTo(false);
        })
        .createTable('class_collaborator', (t) => {
          t.uuid('class_id').notNullable().references('id').inTable('class');
          t.uuid('user_id').notNullable();
          t.primary(['class_id', 'user_id']);
        })
        .createTable('class_member', (t) => {
          t.uuid('class_id').notNullable().references('id').inTable('class');
          t.uuid('user_id').notNullable();
          t.boolean('is_active').notNullable().defaultTo(true);
          t.primary(['class_id', 'user_id']);
        })
        .createTable('user_competency_status', (t) => {
          t.uuid('user_id').notNullable();
          t.string('competency_code', 128).notNullable();
          t.string('status', 16).notNullable();
        }),
    ),
    ...d.coveringPrimaryKeySql('user_competency_status', 'user_competency_status_pkey', ['user_id', 'competency_code'], ['status']),
  ],
};

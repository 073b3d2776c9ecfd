import type { Migration } from './migration.js';
import { ddl, timestampColumn } from './migration.js';
import { rebuildWithUuidCollation } from './uuid-collation.js';

/**
 * SQLite only: the queue's and the results' UUID columns compare case-insensitively, so
 * a lookup joined to a reference table that holds upper-case ids (a class's active
 * members, say) still matches. Ids already stored are lower-cased on the way; learners
 * stored twice in different case keep their newest row. Nothing to do elsewhere: uuid
 * and uniqueidentifier have no case.
 */
export const ownedUuidCollation: Migration = {
  name: '0005_owned_uuid_collation',
  group: 'owned',
  description: 'SQLite: rescope_queue and rescoped_content ids compare case-insensitively',
  statements: (k, d) => [
    ...rebuildWithUuidCollation(k, d, {
      table: 'rescope_queue',
      define(t, uuid) {
        t.bigIncrements('id').primary();
        uuid('user_id').notNullable();
        uuid('course_id').notNullable();
        uuid('class_id').nullable();
        t.string('source', 32).notNullable();
        t.smallint('priority').notNullable();
        t.string('status', 16).nullable();
        t.integer('attempts').notNullable().defaultTo(0);
        t.string('last_error', 2000).nullable();
        timestampColumn(t, k, d, 'available_at');
        timestampColumn(t, k, d, 'created_at');
        timestampColumn(t, k, d, 'updated_at');
        t.boolean('override').notNullable().defaultTo(false);
      },
      columns: ['id', 'user_id', 'course_id', 'class_id', 'source', 'priority', 'status', 'attempts', 'last_error', 'available_at', 'created_at', 'updated_at', 'override'],
      lowerCase: ['user_id', 'course_id', 'class_id'],
      keepNewestPerLearner: { columns: ['user_id', 'course_id'], nullable: 'class_id' },
      autoincrement: true,
      indexes: () => [
        ...ddl(k.schema.alterTable('rescope_queue', (t) => t.index(['priority', 'id'], 'rescope_queue_claim_ix', d.partialClaimIndex ? { predicate: k.whereNull('status') } : {}))),
        d.uniqueWithNullIndexSql('rescope_queue', 'rescope_queue_learner_uq', ['user_id', 'course_id'], 'class_id'),
      ],
    }),
    ...rebuildWithUuidCollation(k, d, {
      table: 'rescoped_content',
      define(t, uuid) {
        t.bigIncrements('id').primary();
        uuid('user_id').notNullable();
        uuid('course_id').notNullable();
        uuid('class_id').nullable();
        t.specificType('skipped_content', d.jsonType).notNullable();
        timestampColumn(t, k, d, 'created_at');
      },
      columns: ['id', 'user_id', 'course_id', 'class_id', 'skipped_content', 'created_at'],
      lowerCase: ['user_id', 'course_id', 'class_id'],
      keepNewestPerLearner: { columns: ['user_id', 'course_id'], nullable: 'class_id' },
      autoincrement: true,
      indexes: () => [d.uniqueWithNullIndexSql('rescoped_content', 'rescoped_content_learner_uq', ['user_id', 'course_id'], 'class_id')],
    }),
  ],
};

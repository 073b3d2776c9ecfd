import type { Migration } from './migration.js';
import { ddl, timestampColumn } from './migration.js';

/**
 * The queue and its results. Few indexes on purpose: every index is paid on each insert
 * and delete of a high-churn table, and no index mentions `status`, so lookups of rows
 * in flight by id can only go through the primary key (a planner with stale statistics
 * would otherwise scan a status index), and the lease recovery scan reads the small
 * in-flight part of the table without one.
 *
 * The claim index serves "queued rows, highest priority, oldest first". Where the
 * database allows it cheaply it is partial (queued rows only). On PostgreSQL it covers
 * every row instead, so that dispatch and process change a row with HOT updates that
 * write no index entries (a third less database work per row, measured); the price is
 * that a claim steps over the rows in flight and failed rows ahead of it.
 */
export const rescopeQueue: Migration = {
  name: '0001_rescope_queue',
  group: 'owned',
  description: 'rescope_queue and rescoped_content',
  statements: (k, d) => [
    ...ddl(
      k.schema.createTable('rescope_queue', (t) => {
        t.bigIncrements('id').primary();
        t.uuid('user_id').notNullable();
        t.uuid('course_id').notNullable();
        t.uuid('class_id').nullable();
        t.string('source', 32).notNullable();
        t.smallint('priority').notNullable();
        t.string('status', 16).nullable();
        t.integer('attempts').notNullable().defaultTo(0);
        t.string('last_error', 2000).nullable();
        timestampColumn(t, k, d, 'available_at');
        timestampColumn(t, k, d, 'created_at');
        timestampColumn(t, k, d, 'updated_at');
        t.index(['priority', 'id'], 'rescope_queue_claim_ix', d.partialClaimIndex ? { predicate: k.whereNull('status') } : {});
      }),
    ),
    ...d.queueTableTuningSql('rescope_queue'),
    d.uniqueWithNullIndexSql('rescope_queue', 'rescope_queue_learner_uq', ['user_id', 'course_id'], 'class_id'),
    ...ddl(
      k.schema.createTable('rescoped_content', (t) => {
        t.bigIncrements('id').primary();
        t.uuid('user_id').notNullable();
        t.uuid('course_id').notNullable();
        t.uuid('class_id').nullable();
        t.specificType('skipped_content', d.jsonType).notNullable();
        timestampColumn(t, k, d, 'created_at');
      }),
    ),
    d.uniqueWithNullIndexSql('rescoped_content', 'rescoped_content_learner_uq', ['user_id', 'course_id'], 'class_id'),
  ],
};

-- mtc-batch schema for SQLite.
-- Generated from src/db/migrations by `npm run sql`; do not edit (a test fails when it is stale).
-- `mtc-batch migrate` runs these same statements in one transaction after taking a lock;
-- the INSERTs into mtc_batch_migrations record each step so migrate skips it afterwards.

CREATE TABLE IF NOT EXISTS "mtc_batch_migrations" ("name" varchar(255) NOT NULL PRIMARY KEY, "applied_at" datetime NOT NULL);

-- 0001_rescope_queue (owned): rescope_queue and rescoped_content
create table `rescope_queue` (`id` integer not null primary key autoincrement, `user_id` char(36) not null, `course_id` char(36) not null, `class_id` char(36) null, `source` varchar(32) not null, `priority` integer not null, `status` varchar(16) null, `attempts` integer not null default '0', `last_error` varchar(2000) null, `available_at` datetime not null default (CAST(ROUND((julianday('now') - 2440587.5) * 86400000) AS INTEGER)), `created_at` datetime not null default (CAST(ROUND((julianday('now') - 2440587.5) * 86400000) AS INTEGER)), `updated_at` datetime not null default (CAST(ROUND((julianday('now') - 2440587.5) * 86400000) AS INTEGER)));

create index `rescope_queue_claim_ix` on `rescope_queue` (`priority`, `id`) where `status` is null;

CREATE UNIQUE INDEX "rescope_queue_learner_uq" ON "rescope_queue" ("user_id", "course_id", COALESCE("class_id", ''));

create table `rescoped_content` (`id` integer not null primary key autoincrement, `user_id` char(36) not null, `course_id` char(36) not null, `class_id` char(36) null, `skipped_content` text not null, `created_at` datetime not null default (CAST(ROUND((julianday('now') - 2440587.5) * 86400000) AS INTEGER)));

CREATE UNIQUE INDEX "rescoped_content_learner_uq" ON "rescoped_content" ("user_id", "course_id", COALESCE("class_id", ''));

insert into `mtc_batch_migrations` (`applied_at`, `name`) values ((CAST(ROUND((julianday('now') - 2440587.5) * 86400000) AS INTEGER)), '0001_rescope_queue');

-- 0002_course_reference (reference, skipped by --owned-only): course, course_item, course_item_competency, class, class_collaborator, class_member, user_competency_status
create table `course` (`id` char(36), `title` varchar(500) null, `version` varchar(64) null, `is_deleted` boolean not null default '0', primary key (`id`));

create table `course_item` (`id` char(36), `course_id` char(36) not null, `unit_id` char(36) not null, `lesson_id` char(36) not null, `format` varchar(32) not null, `sequence` integer not null default '0', `is_deleted` boolean not null default '0', foreign key(`course_id`) references `course`(`id`), primary key (`id`));

create index `course_item_course_ix` on `course_item` (`course_id`);

create table `course_item_competency` (`item_id` char(36) not null, `competency_code` varchar(128) not null, foreign key(`item_id`) references `course_item`(`id`), primary key (`item_id`, `competency_code`));

create index `course_item_competency_code_ix` on `course_item_competency` (`competency_code`);

create table `class` (`id` char(36), `course_id` char(36) null, `creator_id` char(36) not null, `rescope` boolean not null default '0', `is_deleted` boolean not null default '0', `is_archived` boolean not null default '0', primary key (`id`));

create table `class_collaborator` (`class_id` char(36) not null, `user_id` char(36) not null, foreign key(`class_id`) references `class`(`id`), primary key (`class_id`, `user_id`));

create table `class_member` (`class_id` char(36) not null, `user_id` char(36) not null, `is_active` boolean not null default '1', foreign key(`class_id`) references `class`(`id`), primary key (`class_id`, `user_id`));

create table `user_competency_status` (`user_id` char(36) not null, `competency_code` varchar(128) not null, `status` varchar(16) not null);

CREATE UNIQUE INDEX "user_competency_status_pkey" ON "user_competency_status" ("user_id", "competency_code");

insert into `mtc_batch_migrations` (`applied_at`, `name`) values ((CAST(ROUND((julianday('now') - 2440587.5) * 86400000) AS INTEGER)), '0002_course_reference');

-- 0003_mtc_reference (reference, skipped by --owned-only): school, pupil, check
create table `school` (`id` integer not null primary key autoincrement, `urlSlug` char(36) not null, `name` varchar(255) not null);

create unique index `school_urlslug_uq` on `school` (`urlSlug`);

create table `pupil` (`id` integer not null primary key autoincrement, `school_id` integer not null, `urlSlug` char(36) not null, `currentCheckId` integer null, `attendanceId` integer null, foreign key(`school_id`) references `school`(`id`));

create unique index `pupil_urlslug_uq` on `pupil` (`urlSlug`);

create index `pupil_current_check_ix` on `pupil` (`currentCheckId`);

create index `pupil_school_ix` on `pupil` (`school_id`);

create table `check` (`id` integer not null primary key autoincrement, `pupil_id` integer not null, `checkCode` char(36) not null, `isLiveCheck` boolean not null default '1', `pupilLoginDate` datetime null, `received` boolean not null default '0', `complete` boolean not null default '0', `processingFailed` boolean not null default '0', foreign key(`pupil_id`) references `pupil`(`id`));

create unique index `check_checkcode_uq` on `check` (`checkCode`);

create index `check_login_date_ix` on `check` (`pupilLoginDate`) where `received` = 0 AND `isLiveCheck` = 1;

create index `check_processing_failed_ix` on `check` (`id`) where `processingFailed` = 1;

create index `check_pupil_ix` on `check` (`pupil_id`);

insert into `mtc_batch_migrations` (`applied_at`, `name`) values ((CAST(ROUND((julianday('now') - 2440587.5) * 86400000) AS INTEGER)), '0003_mtc_reference');

-- 0004_queue_override (owned): rescope_queue.override
alter table `rescope_queue` add column `override` boolean not null default '0';

insert into `mtc_batch_migrations` (`applied_at`, `name`) values ((CAST(ROUND((julianday('now') - 2440587.5) * 86400000) AS INTEGER)), '0004_queue_override');

-- 0005_owned_uuid_collation (owned): SQLite: rescope_queue and rescoped_content ids compare case-insensitively
CREATE TEMP TABLE temp."rescope_queue_copy" AS SELECT "id", lower("user_id") AS "user_id", lower("course_id") AS "course_id", lower("class_id") AS "class_id", "source", "priority", "status", "attempts", "last_error", "available_at", "created_at", "updated_at", "override" FROM "rescope_queue" WHERE "id" IN (SELECT MAX("id") FROM "rescope_queue" GROUP BY lower("user_id"), lower("course_id"), lower(COALESCE("class_id", '')));

CREATE TEMP TABLE temp."rescope_queue_seq" AS SELECT "seq" FROM "sqlite_sequence" WHERE "name" = 'rescope_queue';

DROP TABLE "rescope_queue";

create table `rescope_queue` (`id` integer not null primary key autoincrement, `user_id` char(36) COLLATE NOCASE not null, `course_id` char(36) COLLATE NOCASE not null, `class_id` char(36) COLLATE NOCASE null, `source` varchar(32) not null, `priority` integer not null, `status` varchar(16) null, `attempts` integer not null default '0', `last_error` varchar(2000) null, `available_at` datetime not null default (CAST(ROUND((julianday('now') - 2440587.5) * 86400000) AS INTEGER)), `created_at` datetime not null default (CAST(ROUND((julianday('now') - 2440587.5) * 86400000) AS INTEGER)), `updated_at` datetime not null default (CAST(ROUND((julianday('now') - 2440587.5) * 86400000) AS INTEGER)), `override` boolean not null default '0');

INSERT INTO "rescope_queue" ("id", "user_id", "course_id", "class_id", "source", "priority", "status", "attempts", "last_error", "available_at", "created_at", "updated_at", "override") SELECT "id", "user_id", "course_id", "class_id", "source", "priority", "status", "attempts", "last_error", "available_at", "created_at", "updated_at", "override" FROM temp."rescope_queue_copy";

UPDATE "sqlite_sequence" SET "seq" = (SELECT "seq" FROM temp."rescope_queue_seq") WHERE "name" = 'rescope_queue' AND "seq" < (SELECT "seq" FROM temp."rescope_queue_seq");

INSERT INTO "sqlite_sequence" ("name", "seq") SELECT 'rescope_queue', "seq" FROM temp."rescope_queue_seq" WHERE NOT EXISTS (SELECT 1 FROM "sqlite_sequence" WHERE "name" = 'rescope_queue');

DROP TABLE temp."rescope_queue_seq";

DROP TABLE temp."rescope_queue_copy";

create index `rescope_queue_claim_ix` on `rescope_queue` (`priority`, `id`) where `status` is null;

CREATE UNIQUE INDEX "rescope_queue_learner_uq" ON "rescope_queue" ("user_id", "course_id", COALESCE("class_id", ''));

CREATE TEMP TABLE temp."rescoped_content_copy" AS SELECT "id", lower("user_id") AS "user_id", lower("course_id") AS "course_id", lower("class_id") AS "class_id", "skipped_content", "created_at" FROM "rescoped_content" WHERE "id" IN (SELECT MAX("id") FROM "rescoped_content" GROUP BY lower("user_id"), lower("course_id"), lower(COALESCE("class_id", '')));

CREATE TEMP TABLE temp."rescoped_content_seq" AS SELECT "seq" FROM "sqlite_sequence" WHERE "name" = 'rescoped_content';

DROP TABLE "rescoped_content";

create table `rescoped_content` (`id` integer not null primary key autoincrement, `user_id` char(36) COLLATE NOCASE not null, `course_id` char(36) COLLATE NOCASE not null, `class_id` char(36) COLLATE NOCASE null, `skipped_content` text not null, `created_at` datetime not null default (CAST(ROUND((julianday('now') - 2440587.5) * 86400000) AS INTEGER)));

INSERT INTO "rescoped_content" ("id", "user_id", "course_id", "class_id", "skipped_content", "created_at") SELECT "id", "user_id", "course_id", "class_id", "skipped_content", "created_at" FROM temp."rescoped_content_copy";

UPDATE "sqlite_sequence" SET "seq" = (SELECT "seq" FROM temp."rescoped_content_seq") WHERE "name" = 'rescoped_content' AND "seq" < (SELECT "seq" FROM temp."rescoped_content_seq");

INSERT INTO "sqlite_sequence" ("name", "seq") SELECT 'rescoped_content', "seq" FROM temp."rescoped_content_seq" WHERE NOT EXISTS (SELECT 1 FROM "sqlite_sequence" WHERE "name" = 'rescoped_content');

DROP TABLE temp."rescoped_content_seq";

DROP TABLE temp."rescoped_content_copy";

CREATE UNIQUE INDEX "rescoped_content_learner_uq" ON "rescoped_content" ("user_id", "course_id", COALESCE("class_id", ''));

insert into `mtc_batch_migrations` (`applied_at`, `name`) values ((CAST(ROUND((julianday('now') - 2440587.5) * 86400000) AS INTEGER)), '0005_owned_uuid_collation');

-- 0006_reference_uuid_collation (reference, skipped by --owned-only): SQLite: course, class and competency tables compare ids case-insensitively
PRAGMA defer_foreign_keys = ON;

CREATE TEMP TABLE temp."course_copy" AS SELECT "id", "title", "version", "is_deleted" FROM "course";

DROP TABLE "course";

create table `course` (`id` char(36) COLLATE NOCASE, `title` varchar(500) null, `version` varchar(64) null, `is_deleted` boolean not null default '0', primary key (`id`));

INSERT INTO "course" ("id", "title", "version", "is_deleted") SELECT "id", "title", "version", "is_deleted" FROM temp."course_copy";

DROP TABLE temp."course_copy";

CREATE TEMP TABLE temp."course_item_copy" AS SELECT "id", "course_id", "unit_id", "lesson_id", "format", "sequence", "is_deleted" FROM "course_item";

DROP TABLE "course_item";

create table `course_item` (`id` char(36) COLLATE NOCASE, `course_id` char(36) COLLATE NOCASE not null, `unit_id` char(36) COLLATE NOCASE not null, `lesson_id` char(36) COLLATE NOCASE not null, `format` varchar(32) not null, `sequence` integer not null default '0', `is_deleted` boolean not null default '0', foreign key(`course_id`) references `course`(`id`), primary key (`id`));

INSERT INTO "course_item" ("id", "course_id", "unit_id", "lesson_id", "format", "sequence", "is_deleted") SELECT "id", "course_id", "unit_id", "lesson_id", "format", "sequence", "is_deleted" FROM temp."course_item_copy";

DROP TABLE temp."course_item_copy";

create index `course_item_course_ix` on `course_item` (`course_id`);

CREATE TEMP TABLE temp."course_item_competency_copy" AS SELECT "item_id", "competency_code" FROM "course_item_competency";

DROP TABLE "course_item_competency";

create table `course_item_competency` (`item_id` char(36) COLLATE NOCASE not null, `competency_code` varchar(128) not null, foreign key(`item_id`) references `course_item`(`id`), primary key (`item_id`, `competency_code`));

INSERT INTO "course_item_competency" ("item_id", "competency_code") SELECT "item_id", "competency_code" FROM temp."course_item_competency_copy";

DROP TABLE temp."course_item_competency_copy";

create index `course_item_competency_code_ix` on `course_item_competency` (`competency_code`);

CREATE TEMP TABLE temp."class_copy" AS SELECT "id", "course_id", "creator_id", "rescope", "is_deleted", "is_archived" FROM "class";

DROP TABLE "class";

create table `class` (`id` char(36) COLLATE NOCASE, `course_id` char(36) COLLATE NOCASE null, `creator_id` char(36) COLLATE NOCASE not null, `rescope` boolean not null default '0', `is_deleted` boolean not null default '0', `is_archived` boolean not null default '0', primary key (`id`));

INSERT INTO "class" ("id", "course_id", "creator_id", "rescope", "is_deleted", "is_archived") SELECT "id", "course_id", "creator_id", "rescope", "is_deleted", "is_archived" FROM temp."class_copy";

DROP TABLE temp."class_copy";

CREATE TEMP TABLE temp."class_collaborator_copy" AS SELECT "class_id", "user_id" FROM "class_collaborator";

DROP TABLE "class_collaborator";

create table `class_collaborator` (`class_id` char(36) COLLATE NOCASE not null, `user_id` char(36) COLLATE NOCASE not null, foreign key(`class_id`) references `class`(`id`), primary key (`class_id`, `user_id`));

INSERT INTO "class_collaborator" ("class_id", "user_id") SELECT "class_id", "user_id" FROM temp."class_collaborator_copy";

DROP TABLE temp."class_collaborator_copy";

CREATE TEMP TABLE temp."class_member_copy" AS SELECT "class_id", "user_id", "is_active" FROM "class_member";

DROP TABLE "class_member";

create table `class_member` (`class_id` char(36) COLLATE NOCASE not null, `user_id` char(36) COLLATE NOCASE not null, `is_active` boolean not null default '1', foreign key(`class_id`) references `class`(`id`), primary key (`class_id`, `user_id`));

INSERT INTO "class_member" ("class_id", "user_id", "is_active") SELECT "class_id", "user_id", "is_active" FROM temp."class_member_copy";

DROP TABLE temp."class_member_copy";

CREATE TEMP TABLE temp."user_competency_status_copy" AS SELECT "user_id", "competency_code", "status" FROM "user_competency_status";

DROP TABLE "user_competency_status";

create table `user_competency_status` (`user_id` char(36) COLLATE NOCASE not null, `competency_code` varchar(128) not null, `status` varchar(16) not null);

INSERT INTO "user_competency_status" ("user_id", "competency_code", "status") SELECT "user_id", "competency_code", "status" FROM temp."user_competency_status_copy";

DROP TABLE temp."user_competency_status_copy";

CREATE UNIQUE INDEX "user_competency_status_pkey" ON "user_competency_status" ("user_id", "competency_code");

insert into `mtc_batch_migrations` (`applied_at`, `name`) values ((CAST(ROUND((julianday('now') - 2440587.5) * 86400000) AS INTEGER)), '0006_reference_uuid_collation');

-- 0007_mtc_uuid_collation (reference, skipped by --owned-only): SQLite: school, pupil and check compare ids case-insensitively
PRAGMA defer_foreign_keys = ON;

CREATE TEMP TABLE temp."school_copy" AS SELECT "id", "urlSlug", "name" FROM "school";

CREATE TEMP TABLE temp."school_seq" AS SELECT "seq" FROM "sqlite_sequence" WHERE "name" = 'school';

DROP TABLE "school";

create table `school` (`id` integer not null primary key autoincrement, `urlSlug` char(36) COLLATE NOCASE not null, `name` varchar(255) not null);

INSERT INTO "school" ("id", "urlSlug", "name") SELECT "id", "urlSlug", "name" FROM temp."school_copy";

UPDATE "sqlite_sequence" SET "seq" = (SELECT "seq" FROM temp."school_seq") WHERE "name" = 'school' AND "seq" < (SELECT "seq" FROM temp."school_seq");

INSERT INTO "sqlite_sequence" ("name", "seq") SELECT 'school', "seq" FROM temp."school_seq" WHERE NOT EXISTS (SELECT 1 FROM "sqlite_sequence" WHERE "name" = 'school');

DROP TABLE temp."school_seq";

DROP TABLE temp."school_copy";

create unique index `school_urlslug_uq` on `school` (`urlSlug`);

CREATE TEMP TABLE temp."pupil_copy" AS SELECT "id", "school_id", "urlSlug", "currentCheckId", "attendanceId" FROM "pupil";

CREATE TEMP TABLE temp."pupil_seq" AS SELECT "seq" FROM "sqlite_sequence" WHERE "name" = 'pupil';

DROP TABLE "pupil";

create table `pupil` (`id` integer not null primary key autoincrement, `school_id` integer not null, `urlSlug` char(36) COLLATE NOCASE not null, `currentCheckId` integer null, `attendanceId` integer null, foreign key(`school_id`) references `school`(`id`));

INSERT INTO "pupil" ("id", "school_id", "urlSlug", "currentCheckId", "attendanceId") SELECT "id", "school_id", "urlSlug", "currentCheckId", "attendanceId" FROM temp."pupil_copy";

UPDATE "sqlite_sequence" SET "seq" = (SELECT "seq" FROM temp."pupil_seq") WHERE "name" = 'pupil' AND "seq" < (SELECT "seq" FROM temp."pupil_seq");

INSERT INTO "sqlite_sequence" ("name", "seq") SELECT 'pupil', "seq" FROM temp."pupil_seq" WHERE NOT EXISTS (SELECT 1 FROM "sqlite_sequence" WHERE "name" = 'pupil');

DROP TABLE temp."pupil_seq";

DROP TABLE temp."pupil_copy";

create unique index `pupil_urlslug_uq` on `pupil` (`urlSlug`);

create index `pupil_current_check_ix` on `pupil` (`currentCheckId`);

create index `pupil_school_ix` on `pupil` (`school_id`);

CREATE TEMP TABLE temp."check_copy" AS SELECT "id", "pupil_id", "checkCode", "isLiveCheck", "pupilLoginDate", "received", "complete", "processingFailed" FROM "check";

CREATE TEMP TABLE temp."check_seq" AS SELECT "seq" FROM "sqlite_sequence" WHERE "name" = 'check';

DROP TABLE "check";

create table `check` (`id` integer not null primary key autoincrement, `pupil_id` integer not null, `checkCode` char(36) COLLATE NOCASE not null, `isLiveCheck` boolean not null default '1', `pupilLoginDate` datetime null, `received` boolean not null default '0', `complete` boolean not null default '0', `processingFailed` boolean not null default '0', foreign key(`pupil_id`) references `pupil`(`id`));

INSERT INTO "check" ("id", "pupil_id", "checkCode", "isLiveCheck", "pupilLoginDate", "received", "complete", "processingFailed") SELECT "id", "pupil_id", "checkCode", "isLiveCheck", "pupilLoginDate", "received", "complete", "processingFailed" FROM temp."check_copy";

UPDATE "sqlite_sequence" SET "seq" = (SELECT "seq" FROM temp."check_seq") WHERE "name" = 'check' AND "seq" < (SELECT "seq" FROM temp."check_seq");

INSERT INTO "sqlite_sequence" ("name", "seq") SELECT 'check', "seq" FROM temp."check_seq" WHERE NOT EXISTS (SELECT 1 FROM "sqlite_sequence" WHERE "name" = 'check');

DROP TABLE temp."check_seq";

DROP TABLE temp."check_copy";

create unique index `check_checkcode_uq` on `check` (`checkCode`);

create index `check_login_date_ix` on `check` (`pupilLoginDate`) where `received` = 0 AND `isLiveCheck` = 1;

create index `check_processing_failed_ix` on `check` (`id`) where `processingFailed` = 1;

create index `check_pupil_ix` on `check` (`pupil_id`);

insert into `mtc_batch_migrations` (`applied_at`, `name`) values ((CAST(ROUND((julianday('now') - 2440587.5) * 86400000) AS INTEGER)), '0007_mtc_uuid_collation');

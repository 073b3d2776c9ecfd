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

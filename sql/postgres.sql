-- mtc-batch schema for PostgreSQL.
-- Generated from src/db/migrations by `npm run sql`; do not edit (a test fails when it is stale).
-- `mtc-batch migrate` runs these same statements in one transaction after taking a lock;
-- the INSERTs into mtc_batch_migrations record each step so migrate skips it afterwards.

CREATE TABLE IF NOT EXISTS "mtc_batch_migrations" ("name" varchar(255) NOT NULL PRIMARY KEY, "applied_at" timestamptz NOT NULL);

-- 0001_rescope_queue (owned): rescope_queue and rescoped_content
create table "rescope_queue" ("id" bigserial primary key, "user_id" uuid not null, "course_id" uuid not null, "class_id" uuid null, "source" varchar(32) not null, "priority" smallint not null, "status" varchar(16) null, "attempts" integer not null default '0', "last_error" varchar(2000) null, "available_at" timestamptz not null default (CURRENT_TIMESTAMP), "created_at" timestamptz not null default (CURRENT_TIMESTAMP), "updated_at" timestamptz not null default (CURRENT_TIMESTAMP));

create index "rescope_queue_claim_ix" on "rescope_queue" ("priority", "id");

ALTER TABLE "rescope_queue" SET (fillfactor = 50, autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02, autovacuum_vacuum_cost_delay = 0);

CREATE UNIQUE INDEX "rescope_queue_learner_uq" ON "rescope_queue" ("user_id", "course_id", (COALESCE("class_id", '00000000-0000-0000-0000-000000000000'::uuid)));

create table "rescoped_content" ("id" bigserial primary key, "user_id" uuid not null, "course_id" uuid not null, "class_id" uuid null, "skipped_content" json not null, "created_at" timestamptz not null default (CURRENT_TIMESTAMP));

CREATE UNIQUE INDEX "rescoped_content_learner_uq" ON "rescoped_content" ("user_id", "course_id", (COALESCE("class_id", '00000000-0000-0000-0000-000000000000'::uuid)));

insert into "mtc_batch_migrations" ("applied_at", "name") values ((CURRENT_TIMESTAMP), '0001_rescope_queue');

-- 0002_course_reference (reference, skipped by --owned-only): course, course_item, course_item_competency, class, class_collaborator, class_member, user_competency_status
create table "course" ("id" uuid, "title" varchar(500) null, "version" varchar(64) null, "is_deleted" boolean not null default '0', constraint "course_pkey" primary key ("id"));

create table "course_item" ("id" uuid, "course_id" uuid not null, "unit_id" uuid not null, "lesson_id" uuid not null, "format" varchar(32) not null, "sequence" integer not null default '0', "is_deleted" boolean not null default '0', constraint "course_item_pkey" primary key ("id"));

alter table "course_item" add constraint "course_item_course_id_foreign" foreign key ("course_id") references "course" ("id");

create index "course_item_course_ix" on "course_item" ("course_id");

create table "course_item_competency" ("item_id" uuid not null, "competency_code" varchar(128) not null, constraint "course_item_competency_pkey" primary key ("item_id", "competency_code"));

alter table "course_item_competency" add constraint "course_item_competency_item_id_foreign" foreign key ("item_id") references "course_item" ("id");

create index "course_item_competency_code_ix" on "course_item_competency" ("competency_code");

create table "class" ("id" uuid, "course_id" uuid null, "creator_id" uuid not null, "rescope" boolean not null default '0', "is_deleted" boolean not null default '0', "is_archived" boolean not null default '0', constraint "class_pkey" primary key ("id"));

create table "class_collaborator" ("class_id" uuid not null, "user_id" uuid not null, constraint "class_collaborator_pkey" primary key ("class_id", "user_id"));

alter table "class_collaborator" add constraint "class_collaborator_class_id_foreign" foreign key ("class_id") references "class" ("id");

create table "class_member" ("class_id" uuid not null, "user_id" uuid not null, "is_active" boolean not null default '1', constraint "class_member_pkey" primary key ("class_id", "user_id"));

alter table "class_member" add constraint "class_member_class_id_foreign" foreign key ("class_id") references "class" ("id");

create table "user_competency_status" ("user_id" uuid not null, "competency_code" varchar(128) not null, "status" varchar(16) not null);

ALTER TABLE "user_competency_status" ADD CONSTRAINT "user_competency_status_pkey" PRIMARY KEY ("user_id", "competency_code") INCLUDE ("status");

insert into "mtc_batch_migrations" ("applied_at", "name") values ((CURRENT_TIMESTAMP), '0002_course_reference');

-- 0003_mtc_reference (reference, skipped by --owned-only): school, pupil, check
create table "school" ("id" serial primary key, "urlSlug" uuid not null, "name" varchar(255) not null);

alter table "school" add constraint "school_urlslug_uq" unique ("urlSlug");

create table "pupil" ("id" serial primary key, "school_id" integer not null, "urlSlug" uuid not null, "currentCheckId" integer null, "attendanceId" integer null);

alter table "pupil" add constraint "pupil_school_id_foreign" foreign key ("school_id") references "school" ("id");

alter table "pupil" add constraint "pupil_urlslug_uq" unique ("urlSlug");

create index "pupil_current_check_ix" on "pupil" ("currentCheckId");

create index "pupil_school_ix" on "pupil" ("school_id");

create table "check" ("id" serial primary key, "pupil_id" integer not null, "checkCode" uuid not null, "isLiveCheck" boolean not null default '1', "pupilLoginDate" timestamptz null, "received" boolean not null default '0', "complete" boolean not null default '0', "processingFailed" boolean not null default '0');

alter table "check" add constraint "check_pupil_id_foreign" foreign key ("pupil_id") references "pupil" ("id");

alter table "check" add constraint "check_checkcode_uq" unique ("checkCode");

create index "check_login_date_ix" on "check" ("pupilLoginDate") where "received" = false AND "isLiveCheck" = true;

create index "check_processing_failed_ix" on "check" ("id") where "processingFailed" = true;

create index "check_pupil_ix" on "check" ("pupil_id");

insert into "mtc_batch_migrations" ("applied_at", "name") values ((CURRENT_TIMESTAMP), '0003_mtc_reference');

-- 0004_queue_override (owned): rescope_queue.override
alter table "rescope_queue" add column "override" boolean not null default '0';

insert into "mtc_batch_migrations" ("applied_at", "name") values ((CURRENT_TIMESTAMP), '0004_queue_override');

-- 0005_owned_uuid_collation (owned): SQLite: rescope_queue and rescoped_content ids compare case-insensitively
insert into "mtc_batch_migrations" ("applied_at", "name") values ((CURRENT_TIMESTAMP), '0005_owned_uuid_collation');

-- 0006_reference_uuid_collation (reference, skipped by --owned-only): SQLite: course, class and competency tables compare ids case-insensitively
insert into "mtc_batch_migrations" ("applied_at", "name") values ((CURRENT_TIMESTAMP), '0006_reference_uuid_collation');

-- 0007_mtc_uuid_collation (reference, skipped by --owned-only): SQLite: school, pupil and check compare ids case-insensitively
insert into "mtc_batch_migrations" ("applied_at", "name") values ((CURRENT_TIMESTAMP), '0007_mtc_uuid_collation');

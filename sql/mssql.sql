-- mtc-batch schema for SQL Server.
-- Generated from src/db/migrations by `npm run sql`; do not edit (a test fails when it is stale).
-- `mtc-batch migrate` runs these same statements in one transaction after taking a lock;
-- the INSERTs into mtc_batch_migrations record each step so migrate skips it afterwards.

IF OBJECT_ID(N'mtc_batch_migrations', N'U') IS NULL CREATE TABLE [mtc_batch_migrations] ([name] nvarchar(255) NOT NULL PRIMARY KEY, [applied_at] datetime2 NOT NULL);
GO

-- 0001_rescope_queue (owned): rescope_queue and rescoped_content
CREATE TABLE [rescope_queue] ([id] bigint identity(1,1) not null primary key, [user_id] uniqueidentifier not null, [course_id] uniqueidentifier not null, [class_id] uniqueidentifier null, [source] nvarchar(32) not null, [priority] smallint not null, [status] nvarchar(16) null, [attempts] int not null CONSTRAINT [rescope_queue_attempts_default] DEFAULT '0', [last_error] nvarchar(2000) null, [available_at] datetime2 not null CONSTRAINT [rescope_queue_available_at_default] DEFAULT (SYSUTCDATETIME()), [created_at] datetime2 not null CONSTRAINT [rescope_queue_created_at_default] DEFAULT (SYSUTCDATETIME()), [updated_at] datetime2 not null CONSTRAINT [rescope_queue_updated_at_default] DEFAULT (SYSUTCDATETIME()));
GO

CREATE INDEX [rescope_queue_claim_ix] ON [rescope_queue] ([priority], [id]) where [status] is null;
GO

CREATE UNIQUE INDEX [rescope_queue_learner_uq] ON [rescope_queue] ([user_id], [course_id], [class_id]) WITH (IGNORE_DUP_KEY = ON);
GO

CREATE TABLE [rescoped_content] ([id] bigint identity(1,1) not null primary key, [user_id] uniqueidentifier not null, [course_id] uniqueidentifier not null, [class_id] uniqueidentifier null, [skipped_content] nvarchar(max) not null, [created_at] datetime2 not null CONSTRAINT [rescoped_content_created_at_default] DEFAULT (SYSUTCDATETIME()));
GO

CREATE UNIQUE INDEX [rescoped_content_learner_uq] ON [rescoped_content] ([user_id], [course_id], [class_id]) WITH (IGNORE_DUP_KEY = ON);
GO

insert into [mtc_batch_migrations] ([applied_at], [name]) values ((SYSUTCDATETIME()), '0001_rescope_queue');
GO

-- 0002_course_reference (reference, skipped by --owned-only): course, course_item, course_item_competency, class, class_collaborator, class_member, user_competency_status
CREATE TABLE [course] ([id] uniqueidentifier, [title] nvarchar(500) null, [version] nvarchar(64) null, [is_deleted] bit not null CONSTRAINT [course_is_deleted_default] DEFAULT '0', CONSTRAINT [course_pkey] PRIMARY KEY ([id]));
GO

CREATE TABLE [course_item] ([id] uniqueidentifier, [course_id] uniqueidentifier not null, [unit_id] uniqueidentifier not null, [lesson_id] uniqueidentifier not null, [format] nvarchar(32) not null, [sequence] int not null CONSTRAINT [course_item_sequence_default] DEFAULT '0', [is_deleted] bit not null CONSTRAINT [course_item_is_deleted_default] DEFAULT '0', CONSTRAINT [course_item_pkey] PRIMARY KEY ([id]), CONSTRAINT [course_item_course_id_foreign] FOREIGN KEY ([course_id]) REFERENCES [course] ([id]));
GO

CREATE INDEX [course_item_course_ix] ON [course_item] ([course_id]);
GO

CREATE TABLE [course_item_competency] ([item_id] uniqueidentifier not null, [competency_code] nvarchar(128) not null, CONSTRAINT [course_item_competency_item_id_foreign] FOREIGN KEY ([item_id]) REFERENCES [course_item] ([id]), CONSTRAINT [course_item_competency_pkey] PRIMARY KEY ([item_id], [competency_code]));
GO

CREATE INDEX [course_item_competency_code_ix] ON [course_item_competency] ([competency_code]);
GO

CREATE TABLE [class] ([id] uniqueidentifier, [course_id] uniqueidentifier null, [creator_id] uniqueidentifier not null, [rescope] bit not null CONSTRAINT [class_rescope_default] DEFAULT '0', [is_deleted] bit not null CONSTRAINT [class_is_deleted_default] DEFAULT '0', [is_archived] bit not null CONSTRAINT [class_is_archived_default] DEFAULT '0', CONSTRAINT [class_pkey] PRIMARY KEY ([id]));
GO

CREATE TABLE [class_collaborator] ([class_id] uniqueidentifier not null, [user_id] uniqueidentifier not null, CONSTRAINT [class_collaborator_class_id_foreign] FOREIGN KEY ([class_id]) REFERENCES [class] ([id]), CONSTRAINT [class_collaborator_pkey] PRIMARY KEY ([class_id], [user_id]));
GO

CREATE TABLE [class_member] ([class_id] uniqueidentifier not null, [user_id] uniqueidentifier not null, [is_active] bit not null CONSTRAINT [class_member_is_active_default] DEFAULT '1', CONSTRAINT [class_member_class_id_foreign] FOREIGN KEY ([class_id]) REFERENCES [class] ([id]), CONSTRAINT [class_member_pkey] PRIMARY KEY ([class_id], [user_id]));
GO

CREATE TABLE [user_competency_status] ([user_id] uniqueidentifier not null, [competency_code] nvarchar(128) not null, [status] nvarchar(16) not null);
GO

ALTER TABLE [user_competency_status] ADD CONSTRAINT [user_competency_status_pkey] PRIMARY KEY CLUSTERED ([user_id], [competency_code]);
GO

insert into [mtc_batch_migrations] ([applied_at], [name]) values ((SYSUTCDATETIME()), '0002_course_reference');
GO

-- 0003_mtc_reference (reference, skipped by --owned-only): school, pupil, check
CREATE TABLE [school] ([id] int identity(1,1) not null primary key, [urlSlug] uniqueidentifier not null, [name] nvarchar(255) not null);
GO

CREATE UNIQUE INDEX [school_urlslug_uq] ON [school] ([urlSlug]) WHERE [urlSlug] IS NOT NULL;
GO

CREATE TABLE [pupil] ([id] int identity(1,1) not null primary key, [school_id] int not null, [urlSlug] uniqueidentifier not null, [currentCheckId] int null, [attendanceId] int null, CONSTRAINT [pupil_school_id_foreign] FOREIGN KEY ([school_id]) REFERENCES [school] ([id]));
GO

CREATE UNIQUE INDEX [pupil_urlslug_uq] ON [pupil] ([urlSlug]) WHERE [urlSlug] IS NOT NULL;
GO

CREATE INDEX [pupil_current_check_ix] ON [pupil] ([currentCheckId]);
GO

CREATE INDEX [pupil_school_ix] ON [pupil] ([school_id]);
GO

CREATE TABLE [check] ([id] int identity(1,1) not null primary key, [pupil_id] int not null, [checkCode] uniqueidentifier not null, [isLiveCheck] bit not null CONSTRAINT [check_islivecheck_default] DEFAULT '1', [pupilLoginDate] datetime2 null, [received] bit not null CONSTRAINT [check_received_default] DEFAULT '0', [complete] bit not null CONSTRAINT [check_complete_default] DEFAULT '0', [processingFailed] bit not null CONSTRAINT [check_processingfailed_default] DEFAULT '0', CONSTRAINT [check_pupil_id_foreign] FOREIGN KEY ([pupil_id]) REFERENCES [pupil] ([id]));
GO

CREATE UNIQUE INDEX [check_checkcode_uq] ON [check] ([checkCode]) WHERE [checkCode] IS NOT NULL;
GO

CREATE INDEX [check_login_date_ix] ON [check] ([pupilLoginDate]) where [received] = 0 AND [isLiveCheck] = 1;
GO

CREATE INDEX [check_processing_failed_ix] ON [check] ([id]) where [processingFailed] = 1;
GO

CREATE INDEX [check_pupil_ix] ON [check] ([pupil_id]);
GO

insert into [mtc_batch_migrations] ([applied_at], [name]) values ((SYSUTCDATETIME()), '0003_mtc_reference');
GO

-- 0004_queue_override (owned): rescope_queue.override
ALTER TABLE [rescope_queue] ADD [override] bit not null CONSTRAINT [rescope_queue_override_default] DEFAULT '0';
GO

insert into [mtc_batch_migrations] ([applied_at], [name]) values ((SYSUTCDATETIME()), '0004_queue_override');
GO

-- 0005_owned_uuid_collation (owned): SQLite: rescope_queue and rescoped_content ids compare case-insensitively
insert into [mtc_batch_migrations] ([applied_at], [name]) values ((SYSUTCDATETIME()), '0005_owned_uuid_collation');
GO

-- 0006_reference_uuid_collation (reference, skipped by --owned-only): SQLite: course, class and competency tables compare ids case-insensitively
insert into [mtc_batch_migrations] ([applied_at], [name]) values ((SYSUTCDATETIME()), '0006_reference_uuid_collation');
GO

-- 0007_mtc_uuid_collation (reference, skipped by --owned-only): SQLite: school, pupil and check compare ids case-insensitively
insert into [mtc_batch_migrations] ([applied_at], [name]) values ((SYSUTCDATETIME()), '0007_mtc_uuid_collation');
GO

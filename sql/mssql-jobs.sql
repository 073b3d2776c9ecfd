-- Every statement the mtc-batch jobs send to SQL Server, in the order they send them.
-- Recorded by test/mssql-statements.test.ts through knex's mssql client (no server) and
-- parsed there by a T-SQL grammar. Regenerate with `npm run snapshots` and review the diff.
-- Long parameter lists are shortened here; @pN are tedious's named parameters.

-- ==== migrate (a new database)

-- begin transaction

-- 1. no parameters
DECLARE @lock int; EXEC @lock = sp_getapplock @Resource = N'mtc-batch:migrate', @LockMode = N'Exclusive', @LockOwner = N'Transaction', @LockTimeout = 120000; IF @lock < 0 THROW 51000, N'mtc-batch migrate: another migrate held the lock for 120 s; try again', 1;

-- 2. the next statement of sql/mssql.sql, as written there

-- 3. no parameters
select [name] from [mtc_batch_migrations];

-- 4.–8. the next 5 statements of sql/mssql.sql, as written there

-- 9. 1 parameter: NVarChar
insert into [mtc_batch_migrations] ([applied_at], [name]) values ((SYSUTCDATETIME()), @p0);

-- 10.–19. the next 10 statements of sql/mssql.sql, as written there

-- 20. 1 parameter: NVarChar
insert into [mtc_batch_migrations] ([applied_at], [name]) values ((SYSUTCDATETIME()), @p0);

-- 21.–31. the next 11 statements of sql/mssql.sql, as written there

-- 32. 1 parameter: NVarChar
insert into [mtc_batch_migrations] ([applied_at], [name]) values ((SYSUTCDATETIME()), @p0);

-- 33. the next statement of sql/mssql.sql, as written there

-- 34. 1 parameter: NVarChar; sent 4 times in a row
insert into [mtc_batch_migrations] ([applied_at], [name]) values ((SYSUTCDATETIME()), @p0);

-- commit

-- ==== enqueue: join.class, oob, assign.course.to.class, and a class with rescope off

-- 1. 3 parameters: NVarChar ×3
select [id], [course_id], [creator_id], [rescope], [is_deleted], [is_archived] from [class] where [id] in (@p0, @p1, @p2);

-- 2. 1 parameter: NVarChar
select [id], [version], [is_deleted] from [course] where [id] in (@p0);

-- 3. 5 parameters: NVarChar ×4, Bit
select [user_id] from [class_member] where [class_id] = @p0 and [is_active] = @p1 and [user_id] in (@p2, @p3, @p4);

-- 4. 18 parameters: NVarChar ×12, Bit ×3, Int ×3
insert into [rescope_queue] ([class_id], [course_id], [override], [priority], [source], [user_id]) values (@p0, @p1, @p2, @p3, @p4, @p5), (@p6, @p7, @p8, @p9, @p10, @p11), (@p12, @p13, @p14, @p15, @p16, @p17); SELECT @@ROWCOUNT AS [affected_rows];

-- 5. 11 parameters: NVarChar ×7, Int ×4
update [rescope_queue] set [status] = @p0, [attempts] = @p1, [priority] = CASE WHEN [priority] > @p2 THEN @p3 ELSE [priority] END, [source] = CASE WHEN [priority] > @p4 THEN @p5 ELSE [source] END, [available_at] = (SYSUTCDATETIME()), [updated_at] = (SYSUTCDATETIME()) where [course_id] = @p6 and [class_id] = @p7 and [user_id] in (@p8, @p9) and [status] = @p10;select @@rowcount;

-- 6. 7 parameters: Int ×2, NVarChar ×5
update [rescope_queue] set [priority] = @p0, [source] = @p1, [updated_at] = (SYSUTCDATETIME()) where [course_id] = @p2 and [class_id] = @p3 and [user_id] in (@p4, @p5) and [status] is null and [priority] > @p6;select @@rowcount;

-- 7. 9 parameters: NVarChar ×5, Int ×4
update [rescope_queue] set [status] = @p0, [attempts] = @p1, [priority] = CASE WHEN [priority] > @p2 THEN @p3 ELSE [priority] END, [source] = CASE WHEN [priority] > @p4 THEN @p5 ELSE [source] END, [available_at] = (SYSUTCDATETIME()), [updated_at] = (SYSUTCDATETIME()) where [course_id] = @p6 and [class_id] is null and [user_id] in (@p7) and [status] = @p8;select @@rowcount;

-- 8. 5 parameters: Int ×2, NVarChar ×3
update [rescope_queue] set [priority] = @p0, [source] = @p1, [updated_at] = (SYSUTCDATETIME()) where [course_id] = @p2 and [class_id] is null and [user_id] in (@p3) and [status] is null and [priority] > @p4;select @@rowcount;

-- 9. 9 parameters: NVarChar ×6, Int, Bit ×2
INSERT INTO [rescope_queue] ([user_id], [course_id], [class_id], [source], [priority], [override]) SELECT m.[user_id], CAST(@p0 AS uniqueidentifier), CAST(@p1 AS uniqueidentifier), CAST(@p2 AS nvarchar(64)), CAST(@p3 AS smallint), CAST(@p4 AS bit) FROM [class_member] m WHERE m.[class_id] = @p5 AND m.[is_active] = @p6 AND NOT EXISTS (SELECT 1 FROM [rescope_queue] q WHERE q.[user_id] = m.[user_id] AND q.[course_id] = @p7 AND q.[class_id] = @p8) ORDER BY m.[user_id]; SELECT @@ROWCOUNT AS [affected_rows];

-- 10. 2 parameters: NVarChar, Bit
select count(*) as [n] from [class_member] where [class_id] = @p0 and [is_active] = @p1;

-- 11. 11 parameters: NVarChar ×6, Int ×4, Bit
update [rescope_queue] set [status] = @p0, [attempts] = @p1, [priority] = CASE WHEN [priority] > @p2 THEN @p3 ELSE [priority] END, [source] = CASE WHEN [priority] > @p4 THEN @p5 ELSE [source] END, [available_at] = (SYSUTCDATETIME()), [updated_at] = (SYSUTCDATETIME()) where [course_id] = @p6 and [class_id] = @p7 and [user_id] in (select [user_id] from [class_member] where [class_id] = @p8 and [is_active] = @p9) and [status] = @p10;select @@rowcount;

-- 12. 7 parameters: Int ×2, NVarChar ×4, Bit
update [rescope_queue] set [priority] = @p0, [source] = @p1, [updated_at] = (SYSUTCDATETIME()) where [course_id] = @p2 and [class_id] = @p3 and [user_id] in (select [user_id] from [class_member] where [class_id] = @p4 and [is_active] = @p5) and [status] is null and [priority] > @p6;select @@rowcount;

-- ==== enqueue: join.class for 1,500 learners (inserts of 350 rows × 6 parameters)

-- 1. 1 parameter: NVarChar
select [id], [course_id], [creator_id], [rescope], [is_deleted], [is_archived] from [class] where [id] in (@p0);

-- 2. 1502 parameters: NVarChar ×1501, Bit
select [user_id] from [class_member] where [class_id] = @p0 and [is_active] = @p1 and [user_id] in (@p2, @p3, /* … 1497 more … */ @p1501);

-- begin transaction

-- 3. 2100 parameters: NVarChar ×1400, Bit ×350, Int ×350; sent 4 times in a row
insert into [rescope_queue] ([class_id], [course_id], [override], [priority], [source], [user_id]) values (@p0, @p1, @p2, @p3, @p4, @p5), /* … 348 more rows … */ (@p2094, @p2095, @p2096, @p2097, @p2098, @p2099); SELECT @@ROWCOUNT AS [affected_rows];

-- 4. 600 parameters: NVarChar ×400, Bit ×100, Int ×100
insert into [rescope_queue] ([class_id], [course_id], [override], [priority], [source], [user_id]) values (@p0, @p1, @p2, @p3, @p4, @p5), /* … 98 more rows … */ (@p594, @p595, @p596, @p597, @p598, @p599); SELECT @@ROWCOUNT AS [affected_rows];

-- commit

-- ==== enqueue: an override request for learners already queued marks their rows

-- 1. 1 parameter: NVarChar
select [id], [course_id], [creator_id], [rescope], [is_deleted], [is_archived] from [class] where [id] in (@p0);

-- 2. 4 parameters: NVarChar ×3, Bit
select [user_id] from [class_member] where [class_id] = @p0 and [is_active] = @p1 and [user_id] in (@p2, @p3);

-- 3. 12 parameters: NVarChar ×8, Bit ×2, Int ×2
insert into [rescope_queue] ([class_id], [course_id], [override], [priority], [source], [user_id]) values (@p0, @p1, @p2, @p3, @p4, @p5), (@p6, @p7, @p8, @p9, @p10, @p11); SELECT @@ROWCOUNT AS [affected_rows];

-- 4. 12 parameters: NVarChar ×7, Int ×4, Bit
update [rescope_queue] set [status] = @p0, [attempts] = @p1, [priority] = CASE WHEN [priority] > @p2 THEN @p3 ELSE [priority] END, [source] = CASE WHEN [priority] > @p4 THEN @p5 ELSE [source] END, [override] = @p6, [available_at] = (SYSUTCDATETIME()), [updated_at] = (SYSUTCDATETIME()) where [course_id] = @p7 and [class_id] = @p8 and [user_id] in (@p9, @p10) and [status] = @p11;select @@rowcount;

-- 5. 11 parameters: Int ×4, NVarChar ×5, Bit ×2
update [rescope_queue] set [priority] = CASE WHEN [priority] > @p0 THEN @p1 ELSE [priority] END, [source] = CASE WHEN [priority] > @p2 THEN @p3 ELSE [source] END, [override] = @p4, [updated_at] = (SYSUTCDATETIME()) where [course_id] = @p5 and [class_id] = @p6 and [user_id] in (@p7, @p8) and [status] is null and ([priority] > @p9 or [override] = @p10);select @@rowcount;

-- 6. 7 parameters: Bit ×2, NVarChar ×5
update [rescope_queue] set [override] = @p0 where [course_id] = @p1 and [class_id] = @p2 and [user_id] in (@p3, @p4) and [status] = @p5 and [override] = @p6;select @@rowcount;

-- 7. 11 parameters: NVarChar ×7, Int ×3, Bit
update [rescope_queue] set [status] = @p0, [priority] = CASE WHEN [priority] > @p1 THEN @p2 ELSE [priority] END, [source] = CASE WHEN [priority] > @p3 THEN @p4 ELSE [source] END, [override] = @p5, [available_at] = (SYSUTCDATETIME()), [updated_at] = (SYSUTCDATETIME()) where [course_id] = @p6 and [class_id] = @p7 and [user_id] in (@p8, @p9) and [status] = @p10;select @@rowcount;

-- ==== dispatch: recover expired leases, then claim

-- 1. 5 parameters: Int ×2, NVarChar ×3
update [rescope_queue] set [status] = CASE WHEN [status] = 'processing' AND [attempts] + 1 >= @p0 THEN 'failed' ELSE NULL END, [attempts] = CASE WHEN [status] = 'processing' THEN [attempts] + 1 ELSE [attempts] END, [last_error] = CASE WHEN [status] = 'processing' THEN @p1 ELSE [last_error] END, [updated_at] = (SYSUTCDATETIME()) output inserted.[status] where [status] in (@p2, @p3) and [updated_at] < (DATEADD(second, CAST(@p4 AS int), SYSUTCDATETIME()));

-- 2. 1 parameter: Int
WITH picked AS (SELECT TOP (@p0) [id], [priority], [status], [updated_at] FROM [rescope_queue] WITH (ROWLOCK, READPAST, UPDLOCK) WHERE [status] IS NULL AND [available_at] <= SYSUTCDATETIME() ORDER BY [priority], [id]) UPDATE picked SET [status] = N'dispatched', [updated_at] = SYSUTCDATETIME() OUTPUT inserted.[id], inserted.[priority];

-- ==== dispatch: the bus refused the ids; the rows go back to the queue

-- 1. 5 parameters: NVarChar ×2, Int ×3
update [rescope_queue] set [status] = @p0, [updated_at] = (SYSUTCDATETIME()) where [id] in (@p1, @p2, @p3) and [status] = @p4;select @@rowcount;

-- ==== process: claim, compute, store; a duplicate, junk, a row already done, a row that cannot be stored

-- 1. 5 parameters: Int ×3, NVarChar, Bit
delete from [rescope_queue] where [id] in (@p0, @p1, @p2) and [status] = @p3 and [override] = @p4 and exists (select 1 from [rescoped_content] as [c] where [c].[user_id] = [rescope_queue].[user_id] and [c].[course_id] = [rescope_queue].[course_id] and ([c].[class_id] = [rescope_queue].[class_id] or ([c].[class_id] is null and [rescope_queue].[class_id] is null)));select @@rowcount;

-- 2. 5 parameters: NVarChar ×2, Int ×3
update [rescope_queue] set [status] = @p0, [updated_at] = (SYSUTCDATETIME()) output inserted.[id], inserted.[user_id], inserted.[course_id], inserted.[class_id], inserted.[attempts], inserted.[override] where [id] in (@p1, @p2, @p3) and [status] = @p4;

-- 3. 2 parameters: Bit, NVarChar
select [ci].[id], [ci].[course_id], [ci].[unit_id], [ci].[lesson_id], [ci].[format], [ci].[sequence], [cic].[competency_code] from [course_item] as [ci] left join [course_item_competency] as [cic] on [cic].[item_id] = [ci].[id] where [ci].[is_deleted] = @p0 and [ci].[course_id] in (@p1);

-- 4. 6 parameters: NVarChar ×5, Bit
select [s].[user_id], N'[' + STRING_AGG(CAST(N'"' + STRING_ESCAPE([s].[competency_code], 'json') + N'"' AS nvarchar(max)), N',') + N']' AS [codes] from [user_competency_status] as [s] where [s].[status] in (@p0, @p1) and [s].[competency_code] in (select [cic].[competency_code] from [course_item_competency] as [cic] inner join [course_item] as [ci] on [ci].[id] = [cic].[item_id] where [ci].[course_id] in (@p2) and [ci].[is_deleted] = @p3) and [s].[user_id] in (@p4, @p5) group by [s].[user_id];

-- begin transaction

-- 5. 8 parameters: NVarChar ×8
insert into [rescoped_content] ([class_id], [course_id], [skipped_content], [user_id]) values (@p0, @p1, @p2, @p3), (@p4, @p5, @p6, @p7); SELECT @@ROWCOUNT AS [affected_rows];

-- rollback

-- begin transaction

-- 6. 8 parameters: NVarChar ×8
insert into [rescoped_content] ([class_id], [course_id], [skipped_content], [user_id]) values (@p0, @p1, @p2, @p3), (@p4, @p5, @p6, @p7); SELECT @@ROWCOUNT AS [affected_rows];

-- rollback

-- begin transaction

-- 7. 4 parameters: NVarChar ×4
insert into [rescoped_content] ([class_id], [course_id], [skipped_content], [user_id]) values (@p0, @p1, @p2, @p3); SELECT @@ROWCOUNT AS [affected_rows];

-- 8. 2 parameters: Int, NVarChar
delete from [rescope_queue] where [id] in (@p0) and [status] = @p1;select @@rowcount;

-- commit

-- begin transaction

-- 9. 4 parameters: NVarChar ×4
insert into [rescoped_content] ([class_id], [course_id], [skipped_content], [user_id]) values (@p0, @p1, @p2, @p3); SELECT @@ROWCOUNT AS [affected_rows];

-- rollback

-- 10. 7 parameters: Int ×4, NVarChar ×3
update [rescope_queue] set [attempts] = @p0, [last_error] = @p1, [status] = @p2, [available_at] = (DATEADD(second, CAST(@p3 AS int), SYSUTCDATETIME())), [updated_at] = (SYSUTCDATETIME()) where [id] in (@p4) and [status] = @p5 and [attempts] = @p6;select @@rowcount;

-- ==== process: a batch of 1,200 (lists of 1,200 ids; inserts of 525 rows × 4 parameters)

-- 1. 1202 parameters: Int ×1200, NVarChar, Bit
delete from [rescope_queue] where [id] in (@p0, @p1, /* … 1197 more … */ @p1199) and [status] = @p1200 and [override] = @p1201 and exists (select 1 from [rescoped_content] as [c] where [c].[user_id] = [rescope_queue].[user_id] and [c].[course_id] = [rescope_queue].[course_id] and ([c].[class_id] = [rescope_queue].[class_id] or ([c].[class_id] is null and [rescope_queue].[class_id] is null)));select @@rowcount;

-- 2. 1202 parameters: NVarChar ×2, Int ×1200
update [rescope_queue] set [status] = @p0, [updated_at] = (SYSUTCDATETIME()) output inserted.[id], inserted.[user_id], inserted.[course_id], inserted.[class_id], inserted.[attempts], inserted.[override] where [id] in (@p1, @p2, /* … 1197 more … */ @p1200) and [status] = @p1201;

-- 3. 2 parameters: Bit, NVarChar
select [ci].[id], [ci].[course_id], [ci].[unit_id], [ci].[lesson_id], [ci].[format], [ci].[sequence], [cic].[competency_code] from [course_item] as [ci] left join [course_item_competency] as [cic] on [cic].[item_id] = [ci].[id] where [ci].[is_deleted] = @p0 and [ci].[course_id] in (@p1);

-- 4. 1204 parameters: NVarChar ×1203, Bit
select [s].[user_id], N'[' + STRING_AGG(CAST(N'"' + STRING_ESCAPE([s].[competency_code], 'json') + N'"' AS nvarchar(max)), N',') + N']' AS [codes] from [user_competency_status] as [s] where [s].[status] in (@p0, @p1) and [s].[competency_code] in (select [cic].[competency_code] from [course_item_competency] as [cic] inner join [course_item] as [ci] on [ci].[id] = [cic].[item_id] where [ci].[course_id] in (@p2) and [ci].[is_deleted] = @p3) and [s].[user_id] in (@p4, @p5, /* … 1197 more … */ @p1203) group by [s].[user_id];

-- begin transaction

-- 5. 2100 parameters: NVarChar ×2100; sent 2 times in a row
insert into [rescoped_content] ([class_id], [course_id], [skipped_content], [user_id]) values (@p0, @p1, @p2, @p3), /* … 523 more rows … */ (@p2096, @p2097, @p2098, @p2099); SELECT @@ROWCOUNT AS [affected_rows];

-- 6. 600 parameters: NVarChar ×600
insert into [rescoped_content] ([class_id], [course_id], [skipped_content], [user_id]) values (@p0, @p1, @p2, @p3), /* … 148 more rows … */ (@p596, @p597, @p598, @p599); SELECT @@ROWCOUNT AS [affected_rows];

-- 7. 1201 parameters: Int ×1200, NVarChar
delete from [rescope_queue] where [id] in (@p0, @p1, /* … 1197 more … */ @p1199) and [status] = @p1200;select @@rowcount;

-- commit

-- ==== process: stopping with rows unfinished; they go back to the queue

-- 1. 4 parameters: NVarChar ×2, Int ×2
update [rescope_queue] set [status] = @p0, [updated_at] = (SYSUTCDATETIME()) where [id] in (@p1, @p2) and [status] = @p3;select @@rowcount;

-- ==== process: override rows replace their learners' content in one batch

-- 1. 4 parameters: Int ×2, NVarChar, Bit
delete from [rescope_queue] where [id] in (@p0, @p1) and [status] = @p2 and [override] = @p3 and exists (select 1 from [rescoped_content] as [c] where [c].[user_id] = [rescope_queue].[user_id] and [c].[course_id] = [rescope_queue].[course_id] and ([c].[class_id] = [rescope_queue].[class_id] or ([c].[class_id] is null and [rescope_queue].[class_id] is null)));select @@rowcount;

-- 2. 4 parameters: NVarChar ×2, Int ×2
update [rescope_queue] set [status] = @p0, [updated_at] = (SYSUTCDATETIME()) output inserted.[id], inserted.[user_id], inserted.[course_id], inserted.[class_id], inserted.[attempts], inserted.[override] where [id] in (@p1, @p2) and [status] = @p3;

-- 3. 2 parameters: Bit, NVarChar
select [ci].[id], [ci].[course_id], [ci].[unit_id], [ci].[lesson_id], [ci].[format], [ci].[sequence], [cic].[competency_code] from [course_item] as [ci] left join [course_item_competency] as [cic] on [cic].[item_id] = [ci].[id] where [ci].[is_deleted] = @p0 and [ci].[course_id] in (@p1);

-- 4. 6 parameters: NVarChar ×5, Bit
select [s].[user_id], N'[' + STRING_AGG(CAST(N'"' + STRING_ESCAPE([s].[competency_code], 'json') + N'"' AS nvarchar(max)), N',') + N']' AS [codes] from [user_competency_status] as [s] where [s].[status] in (@p0, @p1) and [s].[competency_code] in (select [cic].[competency_code] from [course_item_competency] as [cic] inner join [course_item] as [ci] on [ci].[id] = [cic].[item_id] where [ci].[course_id] in (@p2) and [ci].[is_deleted] = @p3) and [s].[user_id] in (@p4, @p5) group by [s].[user_id];

-- begin transaction

-- 5. 8 parameters: NVarChar ×8
DECLARE @rows TABLE ([user_id] uniqueidentifier NULL, [course_id] uniqueidentifier NULL, [class_id] uniqueidentifier NULL, [skipped_content] nvarchar(max) NULL); INSERT INTO @rows ([user_id], [course_id], [class_id], [skipped_content]) VALUES (@p0, @p1, @p2, @p3), (@p4, @p5, @p6, @p7); UPDATE t SET [skipped_content] = r.[skipped_content], [created_at] = SYSUTCDATETIME() FROM [rescoped_content] AS t WITH (HOLDLOCK) INNER JOIN @rows AS r ON t.[user_id] = r.[user_id] AND t.[course_id] = r.[course_id] AND (t.[class_id] = r.[class_id] OR (t.[class_id] IS NULL AND r.[class_id] IS NULL)); INSERT INTO [rescoped_content] ([user_id], [course_id], [class_id], [skipped_content]) SELECT r.[user_id], r.[course_id], r.[class_id], r.[skipped_content] FROM @rows AS r WHERE NOT EXISTS (SELECT 1 FROM [rescoped_content] AS t WITH (UPDLOCK, HOLDLOCK) WHERE t.[user_id] = r.[user_id] AND t.[course_id] = r.[course_id] AND (t.[class_id] = r.[class_id] OR (t.[class_id] IS NULL AND r.[class_id] IS NULL)));

-- 6. 3 parameters: Int ×2, NVarChar
delete from [rescope_queue] where [id] in (@p0, @p1) and [status] = @p2;select @@rowcount;

-- commit

-- ==== overdue-sync

-- 1. 2 parameters: DateTime ×2
SELECT s.[urlSlug] AS school_uuid, g.failed_pupils, g.overdue_checks, g.failed_count, g.overdue_count FROM (SELECT f.school_id, '["' + STRING_AGG(LOWER(CAST(f.failed_pupil AS nvarchar(36))), '","') WITHIN GROUP (ORDER BY LOWER(CAST(f.failed_pupil AS nvarchar(36)))) + '"]' AS failed_pupils, '["' + STRING_AGG(LOWER(CAST(f.overdue_check AS nvarchar(36))), '","') WITHIN GROUP (ORDER BY LOWER(CAST(f.overdue_check AS nvarchar(36)))) + '"]' AS overdue_checks, COUNT(f.failed_pupil) AS failed_count, COUNT(f.overdue_check) AS overdue_count FROM (SELECT p.[school_id] AS school_id, CASE WHEN c.[processingFailed] = 1 THEN p.[urlSlug] END AS failed_pupil, CASE WHEN (c.[received] = 0 AND c.[isLiveCheck] = 1 AND c.[pupilLoginDate] < @p0) THEN c.[checkCode] END AS overdue_check FROM [check] c JOIN [pupil] p ON p.[currentCheckId] = c.[id] WHERE p.[attendanceId] IS NULL AND ((c.[received] = 0 AND c.[isLiveCheck] = 1 AND c.[pupilLoginDate] < @p1) OR c.[processingFailed] = 1)) f GROUP BY f.school_id) g JOIN [school] s ON s.[id] = g.school_id;

-- ==== notify-invalid

-- 1. 5 parameters: Bit ×2, NVarChar ×3
update [check] set [processingFailed] = @p0 where [checkCode] in (@p1, @p2, @p3) and [processingFailed] = @p4;select @@rowcount;

-- 2. 3 parameters: NVarChar ×3
select [c].[checkCode], [c].[id] as [check_id], [p].[currentCheckId], [p].[attendanceId], [p].[urlSlug] as [pupil_uuid], [s].[urlSlug] as [school_uuid] from [check] as [c] inner join [pupil] as [p] on [p].[id] = [c].[pupil_id] inner join [school] as [s] on [s].[id] = [p].[school_id] where [c].[checkCode] in (@p0, @p1, @p2);

-- ==== rescope-show: a learner's own content in a class, not there yet, so queued

-- 1. 6 parameters: NVarChar ×6
SELECT [k].[course_id], [k].[creator_id], [k].[rescope], [k].[is_deleted], [k].[is_archived], CASE WHEN EXISTS (SELECT 1 FROM [class_member] [m] WHERE [m].[class_id] = [k].[id] AND [m].[user_id] = @p0 AND [m].[is_active] = 1) THEN 1 ELSE 0 END AS [target_is_member], CASE WHEN EXISTS (SELECT 1 FROM [class_collaborator] [c] WHERE [c].[class_id] = [k].[id] AND [c].[user_id] = @p1) THEN 1 ELSE 0 END AS [caller_is_collaborator], (SELECT [r].[skipped_content] FROM [rescoped_content] [r] WHERE [r].[user_id] = @p2 AND [r].[course_id] = @p3 AND [r].[class_id] = @p4) AS [content] FROM [class] [k] WHERE [k].[id] = @p5;

-- 2. 1 parameter: NVarChar
select [id], [course_id], [creator_id], [rescope], [is_deleted], [is_archived] from [class] where [id] in (@p0);

-- 3. 3 parameters: NVarChar ×2, Bit
select [user_id] from [class_member] where [class_id] = @p0 and [is_active] = @p1 and [user_id] in (@p2);

-- 4. 6 parameters: NVarChar ×4, Bit, Int
insert into [rescope_queue] ([class_id], [course_id], [override], [priority], [source], [user_id]) values (@p0, @p1, @p2, @p3, @p4, @p5); SELECT @@ROWCOUNT AS [affected_rows];

-- ==== rescope-show: independent learning, found

-- 1. 3 parameters: NVarChar ×3
SELECT [co].[version], [co].[is_deleted], (SELECT [r].[skipped_content] FROM [rescoped_content] [r] WHERE [r].[user_id] = @p0 AND [r].[course_id] = @p1 AND [r].[class_id] IS NULL) AS [content] FROM [course] [co] WHERE [co].[id] = @p2;

-- ==== status

-- 1. no parameters
select [status], count(*) as [n], MIN(CASE WHEN [available_at] <= (SYSUTCDATETIME()) THEN [available_at] END) AS [oldest], (SYSUTCDATETIME()) AS [now] from [rescope_queue] group by [status];

-- 2. 3 parameters: NVarChar ×2, Int
select count(*) as [n] from [rescope_queue] where [status] in (@p0, @p1) and [updated_at] < (DATEADD(second, CAST(@p2 AS int), SYSUTCDATETIME()));

-- 3. no parameters
select count(*) as [n] from [rescoped_content];

-- 4. 2 parameters: Int, NVarChar
select top (@p0) [id], [user_id], [course_id], [class_id], [attempts], [last_error], [updated_at] from [rescope_queue] where [status] = @p1 order by [updated_at] asc;

-- ==== failed: the failed rows of a class, grouped by error, newest first

-- 1. 2 parameters: NVarChar ×2
select count(*) as [n] from [rescope_queue] where [status] = @p0 and [class_id] = @p1;

-- 2. 2 parameters: NVarChar ×2
select [last_error], count(*) as [n] from [rescope_queue] where [status] = @p0 and [class_id] = @p1 group by [last_error];

-- 3. 3 parameters: Int, NVarChar ×2
select top (@p0) [id], [user_id], [course_id], [class_id], [attempts], [last_error], [updated_at] from [rescope_queue] where [status] = @p1 and [class_id] = @p2 order by [updated_at] desc, [id] desc;

-- ==== retry-failed --id (2,500 ids, in chunks) --error-contains

-- 1. 2088 parameters: NVarChar ×3, Int ×2085
update [rescope_queue] set [status] = @p0, [attempts] = @p1, [available_at] = (SYSUTCDATETIME()), [updated_at] = (SYSUTCDATETIME()) where [status] = @p2 and CHARINDEX(LOWER(CAST(@p3 AS nvarchar(4000))), LOWER([last_error])) > 0 and [id] in (@p4, @p5, /* … 2081 more … */ @p2087);select @@rowcount;

-- 2. 420 parameters: NVarChar ×3, Int ×417
update [rescope_queue] set [status] = @p0, [attempts] = @p1, [available_at] = (SYSUTCDATETIME()), [updated_at] = (SYSUTCDATETIME()) where [status] = @p2 and CHARINDEX(LOWER(CAST(@p3 AS nvarchar(4000))), LOWER([last_error])) > 0 and [id] in (@p4, @p5, /* … 413 more … */ @p419);select @@rowcount;

-- ==== discard-failed --course --dry-run, then --all

-- 1. 2 parameters: NVarChar ×2
select count(*) as [n] from [rescope_queue] where [status] = @p0 and [course_id] = @p1;

-- 2. 1 parameter: NVarChar
delete from [rescope_queue] where [status] = @p0;select @@rowcount;

-- ==== rescope-show --explain: the course and the learner's statuses

-- 1. 2 parameters: Bit, NVarChar
select [ci].[id], [ci].[course_id], [ci].[unit_id], [ci].[lesson_id], [ci].[format], [ci].[sequence], [cic].[competency_code] from [course_item] as [ci] left join [course_item_competency] as [cic] on [cic].[item_id] = [ci].[id] where [ci].[is_deleted] = @p0 and [ci].[course_id] in (@p1);

-- 2. 5 parameters: NVarChar ×4, Bit
select [s].[competency_code], [s].[status] from [user_competency_status] as [s] where [s].[user_id] = @p0 and [s].[status] in (@p1, @p2) and [s].[competency_code] in (select [cic].[competency_code] from [course_item_competency] as [cic] inner join [course_item] as [ci] on [ci].[id] = [cic].[item_id] where [ci].[course_id] = @p3 and [ci].[is_deleted] = @p4);

-- ==== enqueue --wait: where the learners stand, and what moved since the wait began

-- 1. no parameters
SELECT (SYSUTCDATETIME()) AS [now];

-- 2. 5 parameters: NVarChar ×5
select [user_id], [status], [available_at], [attempts], [last_error] from [rescope_queue] where [course_id] = @p0 and [class_id] = @p1 and [user_id] in (@p2, @p3, @p4);

-- 3. 2 parameters: NVarChar ×2
select [user_id], [course_id], [class_id] from [rescoped_content] where [user_id] in (@p0, @p1);

-- 4. no parameters
SELECT (SYSUTCDATETIME()) AS [now];

-- 5. 3 parameters: NVarChar ×2, DateTime
select [status], count(*) as [n] from [rescope_queue] where [status] in (@p0, @p1) and [updated_at] >= @p2 group by [status];

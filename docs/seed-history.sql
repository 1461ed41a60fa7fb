-- The history of docs/DATABASE.md's "A goal's past", on top of docs/seed-explain.sql: five events
-- per goal, spread over time (5.55 M), and a fifth of the heavy user's goals completed.
-- psql "$DATABASE_URL" -f docs/seed-history.sql   (scripts/history_doc.sh runs it once)
--
-- The triggers wrote each goal's created event when seed-explain.sql inserted it, dated then;
-- here they are written again as the backfill of migration 0010 dates them (at created_at),
-- followed by four edits a day apart.
TRUNCATE goal_events;
INSERT INTO goal_events (id, goal_id, user_id, occurred_at, action, actor, changes)
SELECT goal_event_id(), id, user_id, created_at, 'created', 'user', jsonb_build_object(
           'title', jsonb_build_object('from', NULL, 'to', title),
           'description', jsonb_build_object('from', NULL, 'to', description),
           'goal_type', jsonb_build_object('from', NULL, 'to', goal_type),
           'value_category', jsonb_build_object('from', NULL, 'to', value_category),
           'target_date', jsonb_build_object('from', NULL, 'to', target_date),
           'status', jsonb_build_object('from', NULL, 'to', status))
  FROM goals;
INSERT INTO goal_events (id, goal_id, user_id, occurred_at, action, actor, changes)
SELECT goal_event_id(), id, user_id, created_at + k * interval '1 day', 'updated', 'user',
       CASE k
           WHEN 1 THEN jsonb_build_object('description', jsonb_build_object(
               'from', description, 'to', description || ' (first draft)'))
           WHEN 2 THEN jsonb_build_object('description', jsonb_build_object(
               'from', description || ' (first draft)', 'to', description))
           WHEN 3 THEN jsonb_build_object('target_date', jsonb_build_object(
               'from', NULL, 'to', target_date))
           ELSE jsonb_build_object('status', jsonb_build_object('from', 'paused', 'to', status))
       END
  FROM goals CROSS JOIN generate_series(1, 4) k;
-- Completions written by the trigger itself (one more event each).
UPDATE goals SET status = 'completed'
 WHERE user_id = (SELECT id FROM users WHERE username = 'user_10001')
   AND status = 'active' AND mod(hashtext(id::text), 5) = 0;
VACUUM ANALYZE goals;
VACUUM ANALYZE goal_events;

-- The dataset of docs/DATABASE.md: 11,000 users x 100 goals + one user (user_10001) at the
-- per-user limit, 10,000 goals: 1.11 M goals.
-- psql "$DATABASE_URL" -f docs/seed-explain.sql   (on a freshly migrated, empty database)
INSERT INTO users (password, is_superuser, username, first_name, last_name, email, is_staff, is_active, date_joined, clerk_user_id)
SELECT '!', false, 'user_' || i, '', '', '', false, true, now(), 'user_' || i FROM generate_series(1, 11001) i;
INSERT INTO goals (user_id, title, description, goal_type, value_category, target_date, status, created_at, updated_at)
SELECT u.id, 'Goal ' || g, 'A description of goal ' || g,
       (ARRAY['abstract','concrete'])[1 + g % 2], (ARRAY['health','craft','growth','connection'])[1 + g % 4],
       CASE WHEN g % 3 = 0 THEN NULL ELSE date '2026-01-01' + (g % 700) END,
       CASE WHEN g % 10 = 0 THEN 'archived' WHEN g % 10 = 1 THEN 'paused' ELSE 'active' END,
       timestamptz '2025-01-01' + g * interval '1 minute', timestamptz '2025-01-01' + g * interval '1 minute'
FROM users u CROSS JOIN generate_series(1, 100) g WHERE u.username <> 'user_10001';
INSERT INTO goals (user_id, title, goal_type, value_category, status, created_at, updated_at)
SELECT u.id, 'Heavy goal ' || g, 'concrete', 'craft', CASE WHEN g % 10 = 0 THEN 'archived' ELSE 'active' END,
       timestamptz '2025-01-01' + g * interval '1 second', timestamptz '2025-01-01' + g * interval '1 second'
FROM users u CROSS JOIN generate_series(1, 10000) g WHERE u.username = 'user_10001';
VACUUM ANALYZE;

#!/usr/bin/env bash
# docs/DATABASE.md's section on a goal's past (goals/history.py), written to stdout from a
# migrated database seeded with docs/seed-explain.sql; docs/seed-history.sql is applied first
# when the events are not there yet. scripts/database_doc.sh calls it; on its own:
#   scripts/history_doc.sh postgresql://postgres@127.0.0.1:5432/delight_bench_scale > section.md
set -euo pipefail
DB="${1:-postgresql://postgres@127.0.0.1:5432/delight_bench_scale}"
cd "$(dirname "$0")/.."
q() { psql "$DB" -Atc "$1"; }
if [ "$(q "SELECT count(*) > 4 * (SELECT count(*) FROM goals) FROM goal_events")" != t ]; then
    psql "$DB" -q -f docs/seed-history.sql >&2
fi
U=$(q "select id from users where username='user_42'")
H=$(q "select id from users where username='user_10001'")
UG=$(q "select id from goals where user_id='$U' order by created_at desc limit 1")
HG=$(q "select id from goals where user_id='$H' order by created_at desc limit 1")

plan() {  # $1 SQL with $1.., $2 the parameters' types, $3 the arguments: the generic plan, run
    psql "$DB" -q <<EOF | sed '/^$/d'
SET plan_cache_mode = force_generic_plan;
PREPARE q($2) AS $1;
\o /dev/null
EXECUTE q($3);
\o
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE q($3);
EOF
}
timing() {  # $1 SQL with :a, :b..., then NAME=VALUE...: mean ms per run, pgbench, prepared
    local sql="$1"; shift
    local script; script=$(mktemp)
    echo "$sql;" > "$script"
    pgbench -n -M prepared -c 1 -T 5 $(printf -- '-D %s ' "$@") -f "$script" "$DB" 2>/dev/null |
        sed -n 's/latency average = \([0-9.]*\) ms/\1/p'
    rm -f "$script"
}

# The statements as goals/history.py sends them (its selectors, the ORM's SQL where it builds it).
COLUMNS_E='"goal_events"."id", "goal_events"."goal_id", "goal_events"."occurred_at", "goal_events"."action", "goal_events"."actor", "goal_events"."changes"'
GOAL_PAGE='SELECT e.id, g.id, e.occurred_at, e.action, e.actor, e.changes FROM (SELECT "goals"."id" AS "id" FROM "goals" WHERE ("goals"."user_id" = $1 AND "goals"."id" = $2)) g LEFT JOIN LATERAL (SELECT id, occurred_at, action, actor, changes FROM goal_events WHERE goal_id = g.id ORDER BY occurred_at DESC, id DESC LIMIT $3) e ON true ORDER BY e.occurred_at DESC, e.id DESC'
ALL_PAGE="SELECT $COLUMNS_E FROM goal_events WHERE goal_events.user_id = \$1 ORDER BY 3 DESC, 1 DESC LIMIT 51"
ALL_AFTER="SELECT $COLUMNS_E FROM goal_events WHERE (goal_events.user_id = \$1 AND goal_events.occurred_at <= \$2 AND (goal_events.occurred_at < \$2 OR goal_events.id < \$3)) ORDER BY 3 DESC, 1 DESC LIMIT 51"
ALL_CATEGORY="SELECT $COLUMNS_E FROM goal_events WHERE (goal_events.user_id = \$1 AND ((goal_events.goal_id IN (SELECT U0.id FROM goals U0 WHERE (U0.user_id = \$1 AND U0.value_category = \$2)))) IS TRUE) ORDER BY 3 DESC, 1 DESC LIMIT 51"
COUNTS='SELECT goal_type, value_category, status, COUNT(*) AS goals, COUNT(id) FILTER (WHERE target_date < $2) AS overdue, COUNT(id) FILTER (WHERE (target_date >= $2 AND target_date <= $3)) AS due FROM goals WHERE user_id = $1 GROUP BY 1, 2, 3'
COMPLETIONS="SELECT count(*), count(*) FILTER (WHERE (completed_at AT TIME ZONE \$3)::date <= target_date), count(*) FILTER (WHERE (completed_at AT TIME ZONE \$3)::date > target_date), count(*) FILTER (WHERE target_date IS NULL), round((percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM completed_at - created_at)::float8) / 86400)::numeric, 1) FROM (SELECT g.target_date, g.created_at, coalesce(last.at, g.updated_at) AS completed_at FROM (SELECT id, target_date, created_at, updated_at FROM goals WHERE (user_id = \$1 AND status = \$2)) g LEFT JOIN LATERAL (SELECT max(occurred_at) AS at FROM goal_events WHERE user_id = \$1 AND goal_id = g.id AND (changes #> '{status,to}') = '\"completed\"'::jsonb) last ON true) completed"

EVENTS=$(q "SELECT count(*) FROM goal_events")
GOALS=$(q "SELECT count(*) FROM goals")
HEAVY_EVENTS=$(q "SELECT count(*) FROM goal_events WHERE user_id = '$H'")
DEEP=$(q "SELECT occurred_at || '|' || id FROM goal_events WHERE user_id = '$H' ORDER BY occurred_at DESC, id DESC OFFSET 49999 LIMIT 1")
DEEP_AT="${DEEP%%|*}"; DEEP_ID="${DEEP##*|}"
TABLE=$(q "SELECT pg_relation_size('goal_events') + coalesce(pg_relation_size(reltoastrelid), 0) FROM pg_class WHERE relname = 'goal_events'")
INDEXES=$(q "SELECT pg_indexes_size('goal_events')")
per() { echo $(( $1 / EVENTS )); }
n() { echo "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; }  # 1234567 -> 1,234,567

cat <<EOF

## A goal's past: history and insights

Every write that changes a tracked field of a goal (title, description, goal type, value category,
target date, status) is one row of \`goal_events\`, written by PostgreSQL itself: the triggers of
migration \`goals/0011_goal_history_triggers.py\` (\`goals/history.py\` says why triggers of our own
rather than django-pghistory, and how the actor is known).

\`\`\`
EOF
psql "$DB" -c '\d goal_events' | sed '/^$/d'
echo '```'
echo
echo 'The triggers on `goals` (beside `update_goals_updated_at` and `goals_per_user_limit`):'
echo
echo '```'
psql "$DB" -Atc "SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = 'goals'::regclass AND tgname LIKE 'goals_record%' ORDER BY tgname"
echo '```'
cat <<EOF

- \`goals_record_created\` and \`goals_record_changed\` call \`goal_events_record()\`: one event
  per write, with exactly the changed fields (\`{"field": {"from": ..., "to": ...}}\`, JSON values:
  a date is \`"YYYY-MM-DD"\`). The \`WHEN\` clause compares the six fields, so a write that changes
  none of them (an empty PATCH, an admin save without changes, \`UPDATE ... SET status = status\`)
  calls nothing at all. They are AFTER triggers named after \`goals_per_user_limit\` (triggers fire
  in name order): a create refused by the limit records nothing.
- The actor is read from the statement's own text: \`current_query()\` starting with
  \`/* delight.actor=user */\` (the API's INSERT and UPDATE, compiled with it once) or
  \`/* delight.actor=staff */\` (every statement of the admin's goal pages); anything else is
  \`system\`. No session state, so nothing leaks through a pooled connection (PgBouncer in
  transaction mode), and no extra round trip: the API's writes stay one statement.
- \`occurred_at\` is \`clock_timestamp()\`: a write that waited for another's row lock is dated
  after it (tests/goals/test_history_database.py).
- \`goal_events_never_edited\` refuses any UPDATE of an event (but its owner's id, which
  \`goals_record_owner\` keeps equal to its goal's). Deleting is allowed: the foreign key cascades
  (a goal erased, its owner erased), and \`manage.py prune_goal_history\` may cap the history.
- Indexes: a goal's history is one backward range of \`idx_goal_events_goal\`; all of a user's
  is one of \`idx_goal_events_user\`; the completions insights read are \`idx_goal_events_completed\`,
  a partial index holding only the events that set a status to \`completed\`. Event ids are
  time-ordered (\`goal_event_id()\`: UUID version 7's layout), so each new one lands at the end of
  \`goal_events_pkey\` rather than on a random page of it; the foreign key to \`goals\` is checked
  at each statement (the trigger writes an event after its goal, so it always holds).
- Existing goals got their \`created\` event when the migration ran (actor \`system\`, dated at
  \`created_at\`, the goal as it was then).

### Storage

Measured on the dataset below ($(n "$EVENTS") events for $(n "$GOALS") goals):

| | bytes | per event |
|---|---:|---:|
| table (with its TOAST) | $(n "$TABLE") | $(per "$TABLE") |
EOF
for index in goal_events_pkey idx_goal_events_goal idx_goal_events_user idx_goal_events_completed; do
    size=$(q "SELECT pg_relation_size('$index')")
    echo "| \`$index\` | $(n "$size") | $(per "$size") |"
done
cat <<EOF
| **total** | $(n $((TABLE + INDEXES))) | **$(per $((TABLE + INDEXES)))** |

A created event holds every field (its \`changes\` are the goal itself); an edit holds one or two.
There is no retention by default: a history lives as long as its goal (its owner's erasure and a
superuser's erase take it along). An operator who must cap it runs
\`manage.py prune_goal_history --older-than-days N\` (daily, from cron), which deletes older edits
of titles, descriptions, types, categories and dates, and keeps every goal's creation and every
status change (what insights read: a completion time, an archiving).

### What it costs a write

\`scripts/history_cost.py\` measures it, history on and off interleaved in one run, on a fresh
database (the API's own INSERT and UPDATE, as \`goals.services\` compiles them). Two runs of
2026-12-06 on this 2-core machine, shared with other work (its load average between 5 and 16):
the wall-clock figures (pgbench's tps, a request's wall time) moved by up to 40 % from one run
to the next, even changing sign; the CPU-time figures (each process's own count) held to about
10 %, so they are the measure:

| per write | create (INSERT) | patch (UPDATE) |
|---|---:|---:|
| PostgreSQL CPU inside the server (a loop of 2,000, no protocol, no commit) | +49 to +51 µs (101 -> 150 µs) | +51 to +67 µs (131 -> 182 µs) |
| PostgreSQL CPU per statement as the API sends it (prepared, its own commit) | +70 to +81 µs | +95 to +170 µs |
| Python, instructions per request (valgrind) | +0.03 to +0.27 % | -0.15 to -0.53 % |
| a whole request, CPU of both processes (the API's create; a patch's read and write) | +1.2 to +5.7 % (1,002 -> 1,059 µs) | +8.3 to +9.3 % (1,200 -> 1,312 µs) |

Python does nothing more: the actor's marker is part of the statements compiled once. What
PostgreSQL does more is the trigger's work, about 50 µs: the event's row and its three index
entries (two thirds of it, the foreign-key check included), the changes built as jsonb and the
function's call (the rest), measured by taking them away one at a time. Two choices came out of
that measurement: time-ordered event ids (a new id lands at the end of the primary key: 20 to
27 µs less than a random UUID's page) and the foreign key checked at each statement instead of
at commit (12 µs less). Leaving out the primary key altogether (ids unique by construction) or
the foreign key saved about 10 µs more each; both stay (uniqueness and
referential integrity are worth that).

### At 1.1 million goals

Dataset: \`docs/seed-explain.sql\` (11,000 users with 100 goals each, one user at the per-user
limit with 10,000) and \`docs/seed-history.sql\` (five events per goal, a fifth of the heavy user's
goals then completed: $(n "$HEAVY_EVENTS") events for that user); \`VACUUM ANALYZE\`;
PostgreSQL 15 on this project's 2-core machine (shared with other work while measured). Each
query as the service sends it, prepared, shown with its generic plan and run.

A page of one goal's history (\`GET /api/v1/goals/{id}/history\`, a goal of a typical user, then
one of the user at the limit): the goal through its owner's index, then its events read backwards
from \`idx_goal_events_goal\`, stopping after the page:

\`\`\`
EOF
plan "$GOAL_PAGE" "uuid, uuid, int" "'$U', '$UG', 51"
plan "$GOAL_PAGE" "uuid, uuid, int" "'$H', '$HG', 51"
cat <<'EOF'
```

All of a user's history (`GET /api/v1/goals/history`), the user at the limit: the first page,
then a page 50,000 events deep by cursor (both one range of `idx_goal_events_user`):

```
EOF
plan "$ALL_PAGE" "uuid" "'$H'"
plan "$ALL_AFTER" "uuid, timestamptz, uuid" "'$H', '$DEEP_AT', '$DEEP_ID'"
cat <<'EOF'
```

Filtered by the goal's current category (`?value_category=`): the events are still read in
order from the owner's index, each checked against a hash of the goals of that category (built
once; `goals.history.IsTrue` keeps PostgreSQL from making it a join, whose generic plan probed
the goals' index once per event: 580 ms here for the worst case below). The worst case is a
category that none of the user's events belong to: here `health`, which none of the heavy user's
goals is, so every one of its events is read. A category they all belong to stops after a page:

```
EOF
plan "$ALL_CATEGORY" "uuid, text" "'$H', 'health'"
plan "$ALL_CATEGORY" "uuid, text" "'$H', 'craft'"
cat <<'EOF'
```

Insights (`GET /api/v1/goals/insights`) of the user at the limit, two queries: the counts by type,
category and status (the owner's goals), and the completions: for each completed goal, one
backward probe of the partial index `idx_goal_events_completed` (only the events that set a
status to `completed`: a few hundred kilobytes for the whole table):

```
EOF
plan "$COUNTS" "uuid, date, date" "'$H', '2026-12-06', '2027-01-05'"
plan "$COMPLETIONS" "uuid, text, text" "'$H', 'completed', 'Europe/Paris'"
cat <<'EOF'
```

Mean time per query (pgbench, one client, prepared statements, 5 seconds each):

| query | typical user (100 goals, 500 events) | user at the limit (10,000 goals) |
|---|---:|---:|
EOF
row() {  # $1 label, $2 SQL with :u (the user) and :g (their newest goal)
    echo "| $1 | $(timing "$2" "u=$U" "g=$UG") ms | $(timing "$2" "u=$H" "g=$HG") ms |"
}
bind() {  # $1 SQL with $1 the user, $2 the goal or a constant, $3 a constant
    echo "$1" | sed "s/\$1/:u/g; s/\$2/${2:-:g}/g; s/\$3/${3:-51}/g"
}
row "a goal's history, first page" "$(bind "$GOAL_PAGE")"
row "all history, first page" "$(bind "$ALL_PAGE")"
row "all history, \`?value_category=health\`" "$(bind "$ALL_CATEGORY" "'health'")"
row "insights: counts" "$(bind "$COUNTS" "'2026-12-06'" "'2027-01-05'")"
row "insights: completions" "$(bind "$COMPLETIONS" "'completed'" "'Europe\/Paris'")"
cat <<'EOF'

Erasing the user at the limit (the `DELETE` of their 10,000 goals that `clerk_user_erase` ends in,
rolled back here): as it runs, then without `goals_per_user_limit` (disabled for the measurement),
then without the history's cascade as well (its foreign key dropped). The history adds the second
row's time less the third's; most of an erasure is the limit's counter, updated once per goal in
one transaction (each update of that row walks the versions the transaction made before it):

EOF
erase() {  # $1: statements run first, in the same rolled-back transaction; the DELETE's ms
    psql "$DB" -q <<SQL | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -1
BEGIN;
$1
\timing on
DELETE FROM goals WHERE user_id = '$H';
\timing off
ROLLBACK;
SQL
}
FK=$(q "SELECT conname FROM pg_constraint WHERE conrelid = 'goal_events'::regclass AND contype = 'f'")
echo "| the DELETE | ms |"
echo "|---|---:|"
echo "| as it runs: every trigger, and the cascade to $(n "$HEAVY_EVENTS") events | $(erase "") |"
echo "| without \`goals_per_user_limit\` | $(erase "ALTER TABLE goals DISABLE TRIGGER goals_per_user_limit;") |"
echo "| without it, nor the history's cascade | $(erase "ALTER TABLE goals DISABLE TRIGGER goals_per_user_limit; ALTER TABLE goal_events DROP CONSTRAINT $FK;") |"

"""goal_events as PostgreSQL keeps it (migrations 0009, 0010): who wrote, when, in what order,
that nothing leaks from one statement to the next, that events are never edited, and that the
goals already there when history began got their first event."""

import re
import threading
import time

import pytest
from django.db import IntegrityError, connection, connections, transaction
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import CaptureQueriesContext
from psycopg import sql

from goals.history import acting_as, marked, prune
from goals.models import Actor, Goal, GoalEvent
from tests.conftest import client_for
from tests.factories import GoalFactory, UserFactory

pytestmark = pytest.mark.django_db

GOALS = "/api/v1/goals"


def execute(statement: str, params=()) -> list:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def events_of(goal) -> list[GoalEvent]:
    """Newest first, as the API orders them."""
    return list(GoalEvent.objects.filter(goal=goal).order_by("-occurred_at", "-id"))


def test_the_orm_outside_the_api_writes_as_system():
    goal = Goal.objects.create(
        user=UserFactory(), title="Made by a command", goal_type="abstract", value_category="craft"
    )
    goal.title = "Saved by a command"
    goal.save()
    assert [(e.action, e.actor) for e in events_of(goal)] == [
        ("updated", "system"),
        ("created", "system"),
    ]


def test_a_staff_write_then_raw_sql_on_the_same_connection_is_system():
    """The marker goes with each statement: nothing is left on the connection for the next one
    (a pooled connection, PgBouncer in transaction mode, serves another client next)."""
    goal = GoalFactory()
    with acting_as(Actor.STAFF):
        Goal.objects.filter(pk=goal.pk).update(title="By staff")
    execute("UPDATE goals SET title = 'By SQL' WHERE id = %s", [goal.id])
    with transaction.atomic():
        with acting_as(Actor.STAFF):
            Goal.objects.filter(pk=goal.pk).update(status="paused")
        execute("UPDATE goals SET status = 'active' WHERE id = %s", [goal.id])
    assert [e.actor for e in events_of(goal)] == ["system", "staff", "system", "staff", "system"]
    # No setting of ours on the session either.
    assert execute("SELECT count(*) FROM pg_settings WHERE name LIKE 'delight.%%'") == [(0,)]


def test_an_api_write_then_raw_sql_on_the_same_connection_is_system(alice):
    api = client_for(alice)
    goal = api.post(
        GOALS, {"title": "x", "goal_type": "abstract", "value_category": "craft"}, format="json"
    ).json()
    execute("UPDATE goals SET title = 'By SQL' WHERE id = %s", [goal["id"]])
    assert [e.actor for e in events_of(goal["id"])] == ["system", "user"]


def test_a_marker_anywhere_but_at_the_start_is_not_one():
    goal = GoalFactory()
    staff, user, unknown = marked("staff"), marked("user"), marked("root")
    # The statements are the test's own (a goal id it made): S608 does not apply.
    execute(f"UPDATE goals SET title = 'Tagged' WHERE id = %s {staff}", [goal.id])  # noqa: S608
    execute(f"SELECT 1; {staff}UPDATE goals SET title = 'Two' WHERE id = '{goal.id}'")  # noqa: S608
    execute(f"{user}UPDATE goals SET title = 'Marked' WHERE id = %s", [goal.id])  # noqa: S608
    execute(f"{unknown}UPDATE goals SET title = 'Unknown' WHERE id = %s", [goal.id])  # noqa: S608
    assert [e.actor for e in events_of(goal)] == ["system", "user", "system", "system", "system"]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE goal_events SET changes = '{}' WHERE goal_id = %s",
        "UPDATE goal_events SET actor = 'user' WHERE goal_id = %s",
        "UPDATE goal_events SET occurred_at = now() - interval '1 year' WHERE goal_id = %s",
    ],
)
def test_events_are_never_edited(statement):
    goal = GoalFactory()
    with pytest.raises(IntegrityError, match="never edited"), transaction.atomic():
        execute(statement, [goal.id])


def test_event_ids_follow_time():
    """Time-ordered ids (UUID version 7's layout): each new one at the end of the primary key's
    index, not on a random page of it."""
    goal = GoalFactory()
    for number in range(3):
        time.sleep(0.002)  # the ids' clock counts milliseconds
        Goal.objects.filter(pk=goal.pk).update(title=f"Title {number}")
    ids = [event.id for event in reversed(events_of(goal))]
    assert ids == sorted(ids)
    assert {event_id.version for event_id in ids} == {7}


def test_an_event_must_belong_to_a_goal_at_once():
    """The foreign key is checked at each statement, not at commit."""
    with pytest.raises(IntegrityError), transaction.atomic():
        execute(
            "INSERT INTO goal_events (goal_id, user_id, action, actor, changes) "
            "VALUES (gen_random_uuid(), gen_random_uuid(), 'updated', 'system', '{}')"
        )


def test_events_go_with_their_goal_and_their_owner():
    goal, other = GoalFactory(), GoalFactory()
    execute("DELETE FROM goals WHERE id = %s", [goal.id])
    assert not GoalEvent.objects.filter(goal_id=goal.id).exists()
    execute("DELETE FROM users WHERE id = %s", [other.user_id])
    assert not GoalEvent.objects.exists()


def test_the_table_and_its_indexes():
    columns = dict(
        execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'goal_events'"
        )
    )
    assert columns == {
        "id": "uuid",
        "goal_id": "uuid",
        "user_id": "uuid",
        "occurred_at": "timestamp with time zone",
        "action": "character varying",
        "actor": "character varying",
        "changes": "jsonb",
    }
    indexes = dict(
        execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'goal_events'")
    )
    assert set(indexes) == {
        "goal_events_pkey",
        "idx_goal_events_goal",
        "idx_goal_events_user",
        "idx_goal_events_completed",
    }
    assert "(goal_id, occurred_at, id)" in indexes["idx_goal_events_goal"]
    assert "(user_id, occurred_at, id)" in indexes["idx_goal_events_user"]
    (cascade,) = execute(
        "SELECT confdeltype FROM pg_constraint WHERE conrelid = 'goal_events'::regclass "
        "AND contype = 'f'"
    )
    assert cascade == ("c",)


def test_a_page_of_history_is_one_backward_index_range(alice):
    """The goal by its owner's index, then its events read backwards from the index, stopping
    after a page (docs/DATABASE.md shows the plans at 1.1 M goals)."""
    from goals import history

    goal = GoalFactory(user=alice)
    statement, params = history.goal_history_statement(
        user=alice, goal_id=goal.id, params={"page_size": 50}
    )
    with transaction.atomic():
        # A tiny table: make the planner show its index choice.
        execute("SET LOCAL enable_seqscan = off")
        execute("SET LOCAL enable_bitmapscan = off")
        rows = execute(sql.SQL("EXPLAIN ") + statement, params)
    plan = "\n".join(row[0] for row in rows)
    assert "Index Scan Backward using idx_goal_events_goal" in plan, plan
    assert re.search(r"Index (Only )?Scan using (goals_pkey|idx_goals_)", plan), plan


def test_a_filtered_page_of_all_history_reads_the_events_in_order(alice):
    """With goal_type / value_category, the events are still read in order from the owner's
    index, each checked against a hash of the chosen goals (goals.history.IsTrue), never a
    join that probes the goals once per event."""
    from goals import history

    GoalFactory(user=alice, value_category="health")
    with CaptureQueriesContext(connection) as captured:
        history.user_history_page(user=alice, params={"page_size": 50, "value_category": "health"})
    (query,) = captured.captured_queries
    with transaction.atomic():
        execute("SET LOCAL enable_seqscan = off")
        execute("SET LOCAL enable_bitmapscan = off")
        rows = execute("EXPLAIN " + query["sql"])  # the statement as sent, values in place
    plan = "\n".join(row[0] for row in rows)
    assert "Index Scan Backward using idx_goal_events_user" in plan, plan
    assert "hashed SubPlan" in plan, plan


def test_completions_are_read_from_their_own_index(alice):
    """The insights' completions (goals.history._COMPLETIONS) use the partial index: its
    predicate is written exactly as the index's."""
    from zoneinfo import ZoneInfo

    from goals import history

    statement, params = history.completions(user=alice, tz=ZoneInfo("UTC"))
    with transaction.atomic():
        execute("SET LOCAL enable_seqscan = off")
        rows = execute(sql.SQL("EXPLAIN ") + statement, params)
    assert "idx_goal_events_completed" in "\n".join(row[0] for row in rows)


# --- Concurrency: real connections, committed rows ------------------------------------------


def _waiting_for_a_lock(count: int) -> None:
    """Until ``count`` other sessions of this database wait for a lock (or 10 seconds pass)."""
    for _ in range(200):
        waiting = execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'"
        )[0][0]
        if waiting >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"{count} sessions never waited for a lock")


def _in_thread(target, results: list) -> threading.Thread:
    def run():
        try:
            results.append(target())
        finally:
            connections.close_all()  # this thread's own connection

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_patches_give_two_events_in_order(alice):
    """The second PATCH waits for the first's row lock: its event comes after, and its `from`
    is the first's `to`."""
    goal = GoalFactory(user=alice)
    locker = connection.copy()
    locker.set_autocommit(False)
    answers: list = []
    try:
        with locker.cursor() as cursor:
            cursor.execute("SELECT 1 FROM goals WHERE id = %s FOR UPDATE", [goal.id])
        first = _in_thread(
            lambda: client_for(alice).patch(
                f"{GOALS}/{goal.id}", {"status": "paused"}, format="json"
            ),
            answers,
        )
        _waiting_for_a_lock(1)
        second = _in_thread(
            lambda: client_for(alice).patch(
                f"{GOALS}/{goal.id}", {"status": "completed"}, format="json"
            ),
            answers,
        )
        _waiting_for_a_lock(2)
        locker.commit()
        first.join(10)
        second.join(10)
    finally:
        locker.close()
    assert [answer.status_code for answer in answers] == [200, 200]
    newest, older, created = events_of(goal)
    assert created.action == "created"
    assert older.changes == {"status": {"from": "active", "to": "paused"}}
    assert newest.changes == {"status": {"from": "paused", "to": "completed"}}
    assert created.occurred_at < older.occurred_at < newest.occurred_at


@pytest.mark.django_db(transaction=True)
def test_a_write_is_dated_when_it_happens_not_when_its_statement_began(alice):
    """A statement that began first but wrote second (it waited) is the later event: dated by
    clock_timestamp(), not statement_timestamp(), so each event's `from` is the `to` before it."""
    goal = GoalFactory(user=alice)
    slow = f"DO $$ BEGIN PERFORM pg_sleep(1); UPDATE goals SET status = 'completed' WHERE id = '{goal.id}'; END $$"  # noqa: S608 - the test's own goal id
    results: list = []
    thread = _in_thread(lambda: execute(slow), results)
    for _ in range(100):  # until the slow statement has begun
        running = execute(
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'DO $$ BEGIN PERFORM pg_sleep%%'"
        )
        if running[0][0]:
            break
        time.sleep(0.02)
    response = client_for(alice).patch(f"{GOALS}/{goal.id}", {"status": "paused"}, format="json")
    assert response.status_code == 200
    thread.join(10)
    newest, older, _ = events_of(goal)
    assert (older.actor, older.changes) == ("user", {"status": {"from": "active", "to": "paused"}})
    assert (newest.actor, newest.changes) == (
        "system",
        {"status": {"from": "paused", "to": "completed"}},
    )


# --- The backfill -----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_goals_there_before_history_get_their_created_event_at_their_creation():
    before, after = ("goals", "0010_goal_history"), ("goals", "0011_goal_history_triggers")
    executor = MigrationExecutor(connection)
    executor.migrate([before])
    try:
        user = UserFactory()
        execute(
            "INSERT INTO goals (user_id, title, goal_type, value_category, target_date, status, "
            "created_at, updated_at) VALUES (%s, 'Old goal', 'concrete', 'health', '2026-05-15', "
            "'paused', '2025-01-01T10:00:00Z', '2025-06-01T10:00:00Z')",
            [user.pk],
        )
        assert execute("SELECT count(*) FROM goal_events") == [(0,)]
    finally:
        executor.loader.build_graph()
        executor.migrate([after])
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes("goals"))
    (event,) = GoalEvent.objects.all()
    goal = Goal.objects.get()
    assert (event.goal_id, event.user_id) == (goal.id, user.pk)
    assert (event.action, event.actor, event.occurred_at) == ("created", "system", goal.created_at)
    assert event.changes == {
        "title": {"from": None, "to": "Old goal"},
        "description": {"from": None, "to": None},
        "goal_type": {"from": None, "to": "concrete"},
        "value_category": {"from": None, "to": "health"},
        "target_date": {"from": None, "to": "2026-05-15"},
        "status": {"from": None, "to": "paused"},
    }


# --- Retention (none by default; prune_goal_history when an operator caps it) ----------------


def test_pruning_keeps_creations_and_status_changes(alice):
    from io import StringIO

    from django.core.management import CommandError, call_command

    goal = GoalFactory(user=alice)

    def old_event(action: str, changes: str) -> None:
        execute(
            "INSERT INTO goal_events (goal_id, user_id, occurred_at, action, actor, changes) "
            "VALUES (%s, %s, now() - interval '100 days', %s, 'user', %s)",
            [goal.id, alice.pk, action, changes],
        )

    old_event("updated", '{"title": {"from": "a", "to": "b"}}')
    old_event("updated", '{"status": {"from": "active", "to": "completed"}}')
    old_event("archived", '{"status": {"from": "completed", "to": "archived"}, "title": {}}')
    old_event("created", '{"title": {"from": null, "to": "a"}}')
    Goal.objects.filter(pk=goal.pk).update(title="Recent")
    out = StringIO()
    call_command("prune_goal_history", "--older-than-days", "30", stdout=out)
    assert out.getvalue().strip() == "Deleted 1 goal events."
    left = [(e.action, sorted(e.changes)) for e in events_of(goal)]
    assert ("updated", ["title"]) in left  # the recent edit
    assert len(left) == 5
    assert all(e.changes != {"title": {"from": "a", "to": "b"}} for e in events_of(goal))
    with pytest.raises(CommandError):
        call_command("prune_goal_history", "--older-than-days", "0")


def test_pruning_deletes_a_batch_at_a_time_until_none_is_left(alice):
    """A first prune of a long history is many short statements, not one past the bound."""
    goal = GoalFactory(user=alice)
    for number in range(7):
        execute(
            "INSERT INTO goal_events (goal_id, user_id, occurred_at, action, actor, changes) "
            "VALUES (%s, %s, now() - interval '40 days', 'updated', 'system', %s)",
            [goal.id, alice.pk, f'{{"title": {{"from": "{number}", "to": "x"}}}}'],
        )
    with CaptureQueriesContext(connection) as queries:
        assert prune(older_than_days=30, batch=3) == 7
    assert [q["sql"].lstrip()[:6] for q in queries.captured_queries] == ["DELETE"] * 3  # 3, 3, 1
    assert [e.action for e in events_of(goal)] == ["created"]


@pytest.mark.parametrize(
    ("column", "wider"),
    [("goal_type", "varchar(40)"), ("value_category", "varchar(70)"), ("status", "varchar(30)")],
)
def test_the_history_triggers_never_stop_a_column_being_widened(column, wider):
    """PostgreSQL refuses to change the type of a column a trigger's WHEN clause names: the first
    history trigger compared the tracked fields there, and a routine AlterField (max_length=70)
    failed with "cannot alter type of a column used in a trigger definition"."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE goals ALTER COLUMN {column} TYPE {wider}")
        transaction.set_rollback(True)

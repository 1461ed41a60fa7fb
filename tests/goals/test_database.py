"""The goals table as PostgreSQL sees it (story AC1): PostgreSQL itself enforces the rules, so raw
SQL and QuerySet.update() cannot store what the API refuses."""

import uuid

import pytest
from django.core.management import call_command
from django.db import DataError, IntegrityError, connection, transaction

from goals.models import Goal, GoalStatus
from tests.factories import GoalFactory, UserFactory

pytestmark = pytest.mark.django_db


def fetch(sql: str, params=()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def insert_goal(user_id, **overrides):
    """INSERT with plain SQL, leaving out what the database should default."""
    values = {"title": "Plain SQL goal", "goal_type": "concrete", "value_category": "craft"}
    values.update(overrides)
    columns = ", ".join(["user_id", *values])
    placeholders = ", ".join(["%s"] * (len(values) + 1))
    return fetch(
        f"INSERT INTO goals ({columns}) VALUES ({placeholders}) RETURNING id, status, created_at, updated_at",  # noqa: S608
        [user_id, *values.values()],
    )[0]


def test_columns_types_nullability_and_defaults():
    rows = fetch(
        """SELECT column_name, data_type, character_maximum_length, is_nullable, column_default
             FROM information_schema.columns WHERE table_name = 'goals'"""
    )
    columns = {
        name: (kind, length, nullable, default) for name, kind, length, nullable, default in rows
    }
    assert columns == {
        "id": ("uuid", None, "NO", "gen_random_uuid()"),
        "user_id": ("uuid", None, "NO", None),
        "title": ("character varying", 200, "NO", None),
        "description": ("text", None, "YES", None),
        "goal_type": ("character varying", 20, "NO", None),
        "value_category": ("character varying", 50, "NO", None),
        "target_date": ("date", None, "YES", None),
        "status": ("character varying", 20, "NO", "'active'::character varying"),
        "created_at": ("timestamp with time zone", None, "NO", "statement_timestamp()"),
        "updated_at": ("timestamp with time zone", None, "NO", "statement_timestamp()"),
    }


def test_check_constraints_are_named_after_their_rules():
    names = {
        row[0]
        for row in fetch(
            "SELECT conname FROM pg_constraint WHERE conrelid = 'goals'::regclass AND contype = 'c'"
        )
    }
    assert names == {
        "goals_goal_type_valid",
        "goals_value_category_valid",
        "goals_status_valid",
        "goals_title_not_blank",
        "goals_description_max_length",
    }


def test_user_foreign_key_cascades_in_the_database():
    rows = fetch(
        """SELECT confrelid::regclass::text, confdeltype FROM pg_constraint
            WHERE conrelid = 'goals'::regclass AND contype = 'f'"""
    )
    assert rows == [("users", "c")]


def test_indexes_serve_the_status_filter_and_the_default_list():
    rows = fetch("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'goals'")
    indexes = dict(rows)
    assert set(indexes) == {"goals_pkey", "idx_goals_user_status", "idx_goals_user_created"}
    assert "(user_id, status, created_at DESC, id DESC)" in indexes["idx_goals_user_status"]
    assert (
        "(user_id, created_at DESC, id DESC) INCLUDE (status)" in indexes["idx_goals_user_created"]
    )


@pytest.mark.parametrize("plan_cache_mode", ["force_custom_plan", "force_generic_plan"])
@pytest.mark.parametrize("where", ["status <> $2", "status = $2"])  # default list; ?status=
def test_list_queries_are_index_scans_with_no_sort(plan_cache_mode, where):
    """Prepared statements use generic plans, where status is a parameter: both must hold."""
    user = UserFactory()
    GoalFactory.create_batch(3, user=user)
    with transaction.atomic():
        fetch(
            "SET LOCAL enable_seqscan = off"
        )  # tiny table: make the planner show its index choice
        fetch(f"SET LOCAL plan_cache_mode = {plan_cache_mode}")
        fetch(
            f"PREPARE page(uuid, text) AS SELECT * FROM goals WHERE user_id = $1 AND {where} "  # noqa: S608
            "ORDER BY created_at DESC, id DESC LIMIT 50"
        )
        try:
            # A utility statement takes no bound parameters; the id is a UUID we made.
            plan = "\n".join(
                row[0] for row in fetch(f"EXPLAIN EXECUTE page('{user.pk}', 'archived')")
            )
        finally:
            fetch("DEALLOCATE page")
    # On this tiny table either index serves both; docs/DATABASE.md shows the choice at 1 M rows.
    assert (
        "Index Scan using idx_goals_user_" in plan
        or "Index Only Scan using idx_goals_user_" in plan
    )
    assert "Sort" not in plan


def test_update_trigger_exists():
    rows = dict(
        fetch(
            """SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger
                WHERE tgrelid = 'goals'::regclass AND NOT tgisinternal"""
        )
    )
    assert set(rows) == {"update_goals_updated_at", "goals_per_user_limit"}
    assert "BEFORE UPDATE ON public.goals FOR EACH ROW" in rows["update_goals_updated_at"]


def test_plain_sql_insert_gets_the_database_defaults():
    user = UserFactory()
    goal_id, status, created_at, updated_at = insert_goal(user.pk)
    assert isinstance(goal_id, uuid.UUID)
    assert status == "active"
    assert created_at == updated_at


def test_orm_create_returns_the_generated_id_status_and_timestamps():
    goal = Goal.objects.create(
        user=UserFactory(), title="Learn the cello", goal_type="abstract", value_category="craft"
    )
    assert isinstance(goal.id, uuid.UUID)
    assert goal.status == GoalStatus.ACTIVE
    assert goal.created_at is not None
    assert goal.updated_at == goal.created_at
    goal.refresh_from_db()
    assert goal.status == "active"


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("goal_type", "fuzzy"),
        ("value_category", "wealth"),
        ("status", "deleted"),
        ("title", ""),
        ("title", "   \t\n"),
    ],
)
def test_plain_sql_cannot_break_a_check_constraint(column, value):
    user = UserFactory()
    with pytest.raises(IntegrityError, match="violates check constraint"), transaction.atomic():
        insert_goal(user.pk, **{column: value})


@pytest.mark.parametrize(
    ("column", "value"),
    [("title", "x" * 201), ("goal_type", "x" * 21), ("value_category", "x" * 51)],
)
def test_plain_sql_cannot_exceed_a_column_length(column, value):
    with pytest.raises(DataError), transaction.atomic():
        insert_goal(UserFactory().pk, **{column: value})


def test_description_over_2000_characters_is_refused():
    with pytest.raises(IntegrityError, match="goals_description_max_length"), transaction.atomic():
        insert_goal(UserFactory().pk, description="d" * 2001)
    insert_goal(UserFactory().pk, description="d" * 2000)


def test_nul_characters_are_refused():
    with pytest.raises(DataError, match="NUL"), transaction.atomic():
        insert_goal(UserFactory().pk, title="bad\x00title")


def test_queryset_update_cannot_bypass_the_choices():
    goal = GoalFactory()
    with pytest.raises(IntegrityError, match="goals_status_valid"), transaction.atomic():
        Goal.objects.filter(pk=goal.pk).update(status="gone")


def test_raw_sql_update_moves_updated_at_and_keeps_created_at():
    goal = GoalFactory()
    fetch("UPDATE goals SET title = 'Renamed' WHERE id = %s", [goal.pk])
    created_at, updated_at = fetch(
        "SELECT created_at, updated_at FROM goals WHERE id = %s", [goal.pk]
    )[0]
    assert created_at == goal.created_at
    assert updated_at > goal.updated_at


def test_updated_at_cannot_be_set_by_hand():
    goal = GoalFactory()
    fetch("UPDATE goals SET updated_at = '2000-01-01' WHERE id = %s", [goal.pk])
    goal_after = Goal.objects.get(pk=goal.pk)
    assert goal_after.updated_at.year > 2000


def test_queryset_update_moves_updated_at():
    goal = GoalFactory()
    Goal.objects.filter(pk=goal.pk).update(status=GoalStatus.PAUSED)
    goal_after = Goal.objects.get(pk=goal.pk)
    assert goal_after.updated_at > goal.updated_at
    assert goal_after.created_at == goal.created_at


def test_deleting_a_user_with_plain_sql_removes_their_goals():
    keep = GoalFactory()
    doomed = GoalFactory()
    fetch("DELETE FROM users WHERE id = %s", [doomed.user_id])
    assert list(Goal.objects.values_list("id", flat=True)) == [keep.id]


def test_owned_by_scopes_to_one_user():
    mine = GoalFactory()
    GoalFactory()
    assert list(Goal.objects.owned_by(mine.user)) == [mine]


def test_visible_leaves_archived_goals_out():
    user = UserFactory()
    active = GoalFactory(user=user)
    GoalFactory(user=user, status=GoalStatus.ARCHIVED)
    assert list(Goal.objects.owned_by(user).visible()) == [active]


def test_models_and_migrations_agree():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


@pytest.mark.django_db(transaction=True)
def test_goal_migrations_reverse_and_reapply():
    call_command("migrate", "goals", "zero", verbosity=0)
    assert fetch("SELECT to_regclass('goals')") == [(None,)]
    assert fetch("SELECT count(*) FROM pg_proc WHERE proname = 'update_updated_at_column'") == [
        (0,)
    ]
    call_command("migrate", "goals", verbosity=0)
    assert fetch("SELECT to_regclass('goals')::text") == [("goals",)]
    test_update_trigger_exists()
    test_user_foreign_key_cascades_in_the_database()

"""GOALS_PER_USER_LIMIT: a user holds at most that many goals, archived ones included; a POST
beyond it is 409, whoever writes and however many write at once.

The limit is the writer's: PostgreSQL's trigger reads the session setting the service starts each
connection with (delight.settings DATABASE_SESSION_SETTINGS), and a writer that sets none gets the
default (migration 0009). Nothing is rewritten at migrate."""

import contextlib
import os
import subprocess
import sys
import threading

import psycopg
import pytest
import requests
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction

from goals import limits
from goals.models import Goal
from tests.factories import GoalFactory, UserFactory
from tests.limits import service_limit
from tests.ops.servers import Server
from tests.tokens import make_token

pytestmark = pytest.mark.django_db(transaction=True)  # a refused INSERT ends its transaction

GOALS = "/api/v1/goals"
BODY = {"title": "One more", "goal_type": "concrete", "value_category": "craft"}


@pytest.fixture
def limit_of():
    """Set the service's limit as a deployment does: its connections start with it."""
    with contextlib.ExitStack() as stack:
        yield lambda value: stack.enter_context(service_limit(value))


def _trigger_definition() -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_triggerdef(oid) FROM pg_trigger "
            "WHERE tgname = %s AND tgrelid = 'goals'::regclass",
            [limits.TRIGGER],
        )
        return cursor.fetchone()[0]


def _session_limit(cursor) -> str | None:
    cursor.execute("SELECT current_setting(%s, true)", [limits.SESSION_SETTING])
    return cursor.fetchone()[0]


def test_the_service_starts_every_connection_with_its_limit(settings):
    assert settings.GOALS_PER_USER_LIMIT == limits.DEFAULT_LIMIT
    assert (
        f"-c delight.goals_per_user_limit={settings.GOALS_PER_USER_LIMIT}"
        in settings.DATABASES["default"]["OPTIONS"]["options"]
    )
    connection.close()
    with connection.cursor() as cursor:
        assert _session_limit(cursor) == "10000"


def test_migrate_leaves_the_limit_to_the_writers(settings):
    """The schema no longer holds the last migrate's GOALS_PER_USER_LIMIT: the trigger takes
    no argument, and a migrate with another value changes nothing."""
    before = _trigger_definition()
    assert before.endswith("EXECUTE FUNCTION goals_per_user_limit()")
    settings.GOALS_PER_USER_LIMIT = 3
    call_command("migrate", verbosity=0)
    assert _trigger_definition() == before


def test_a_create_beyond_the_limit_is_409_naming_it(limit_of, api, alice, bob_api):
    limit_of(3)
    with connection.cursor() as cursor:
        assert _session_limit(cursor) == "3"
    GoalFactory.create_batch(2, user=alice, status="archived")  # archived goals count too
    assert api.post(GOALS, BODY, format="json").status_code == 201
    refused = api.post(GOALS, BODY, format="json")
    assert refused.status_code == 409
    assert refused.json() == {
        "detail": "Goal limit reached: A user holds at most 3 goals (archived ones included)."
    }
    assert Goal.objects.owned_by(alice).count() == 3
    assert bob_api.post(GOALS, BODY, format="json").status_code == 201  # per user


def test_the_database_refuses_every_write_of_the_service_beyond_its_limit(limit_of):
    """The ORM, raw SQL on the service's connection, and an owner change alike."""
    limit_of(2)
    owner, other = UserFactory(), UserFactory()
    GoalFactory.create_batch(2, user=owner)
    with (
        pytest.raises(IntegrityError) as refused,
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "INSERT INTO goals (user_id, title, goal_type, value_category) "
            "VALUES (%s, 'raw', 'concrete', 'craft')",
            [owner.pk],
        )
    assert limits.limit_reached(refused.value) == 2
    moved = GoalFactory(user=other)
    with pytest.raises(IntegrityError), transaction.atomic():
        Goal.objects.filter(pk=moved.pk).update(user=owner)  # a new owner is checked too
    Goal.objects.filter(pk=moved.pk).update(title="same owner, no check")


def test_concurrent_creates_at_the_edge_never_overshoot(limit_of, live_server):
    limit_of(5)
    owner = UserFactory(clerk_user_id="user_edge")
    GoalFactory.create_batch(3, user=owner)
    token = make_token("user_edge")
    statuses = []
    start = threading.Barrier(12)

    def create() -> None:
        start.wait()
        response = requests.post(
            f"{live_server.url}{GOALS}",
            json=BODY,
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=create) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201] * 2 + [409] * 10
    assert Goal.objects.owned_by(owner).count() == 5


def _tallies() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT user_id, goals FROM goal_owner_counts WHERE goals > 0")
        return dict(cursor.fetchall())


def _counts() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT user_id, count(*) FROM goals GROUP BY 1")
        return dict(cursor.fetchall())


def test_the_owner_counts_follow_every_kind_of_write():
    alice, bob = UserFactory(), UserFactory()
    goals = GoalFactory.create_batch(6, user=alice)
    GoalFactory.create_batch(2, user=bob)
    assert _tallies() == _counts() == {alice.pk: 6, bob.pk: 2}
    goals[0].delete()
    Goal.objects.filter(pk=goals[1].pk).update(user=bob)
    Goal.objects.filter(pk=goals[2].pk).update(status="archived", title="no owner change")
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO goals (user_id, title, goal_type, value_category) "
            "SELECT %s, 'raw', 'concrete', 'craft' FROM generate_series(1, 3)",
            [bob.pk],
        )
    assert _tallies() == _counts() == {alice.pk: 4, bob.pk: 6}
    bob.delete()  # Django's collector deletes the goals, then the user
    assert _tallies() == _counts() == {alice.pk: 4}
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM users WHERE id = %s", [alice.pk])  # ON DELETE CASCADE
    assert _tallies() == _counts() == {}
    with connection.cursor() as cursor:  # no row at all is left for an owner without goals
        cursor.execute("SELECT count(*) FROM goal_owner_counts")
        assert cursor.fetchone() == (0,)


def _plain_connection(**params):
    """A connection as psql or a script opens it: the same server and database, none of the
    service's session settings."""
    settings = connection.get_connection_params()
    for name in ("options", "cursor_factory", "context"):
        settings.pop(name, None)
    return psycopg.connect(**settings, **params, autocommit=True)


def _raw_insert(conn, owner, count: int = 1) -> None:
    conn.execute(
        "INSERT INTO goals (user_id, title, goal_type, value_category) "
        "SELECT %s, 'raw', 'concrete', 'craft' FROM generate_series(1, %s)",
        [owner.pk, count],
    )


def test_a_writer_that_sets_no_limit_gets_the_default():
    """psql, a script, another tool: the migration's 10,000, whatever the service's limit."""
    owner = UserFactory()
    with service_limit(3), _plain_connection() as raw:
        assert _session_limit(raw.cursor()) is None
        _raw_insert(raw, owner, limits.DEFAULT_LIMIT)
        with pytest.raises(psycopg.errors.CheckViolation) as refused:
            _raw_insert(raw, owner)
    assert refused.value.diag.constraint_name == limits.TRIGGER
    assert refused.value.diag.message_detail == "10000"
    assert Goal.objects.owned_by(owner).count() == limits.DEFAULT_LIMIT


def test_a_limit_below_one_refuses_every_goal():
    owner = UserFactory()
    with (
        _plain_connection(options=f"-c {limits.SESSION_SETTING}=0") as raw,
        pytest.raises(psycopg.errors.CheckViolation) as refused,
    ):
        _raw_insert(raw, owner)  # the first goal too (no count row to hold it back)
    assert refused.value.diag.message_detail == "0"
    assert not Goal.objects.owned_by(owner).exists()


def test_the_database_roles_setting_applies_where_the_service_sends_none():
    """Behind a transaction-mode pooler the service sends no setting (docs/DATABASE.md): the
    role's default for the database (ALTER ROLE ... SET) is the limit then; where the service
    sends its own, that one wins."""
    owner = UserFactory()
    database = connection.settings_dict["NAME"]
    with connection.cursor() as cursor:
        cursor.execute(
            f'ALTER ROLE CURRENT_USER IN DATABASE "{database}" SET {limits.SESSION_SETTING} = 2'
        )
    try:
        with _plain_connection() as raw:
            assert _session_limit(raw.cursor()) == "2"
            _raw_insert(raw, owner, 2)
            with pytest.raises(psycopg.errors.CheckViolation):
                _raw_insert(raw, owner)
        connection.close()
        with connection.cursor() as cursor:
            assert _session_limit(cursor) == "10000"  # the service's options, over the role's
    finally:
        with connection.cursor() as cursor:
            cursor.execute(
                f'ALTER ROLE CURRENT_USER IN DATABASE "{database}" RESET {limits.SESSION_SETTING}'
            )


def test_two_services_with_different_limits_on_one_database_each_enforce_their_own():
    """The old trigger held one limit, the last migrate's, for every service at once."""
    owner = UserFactory(clerk_user_id="user_two_services")
    headers = {"Authorization": f"Bearer {make_token('user_two_services')}"}
    three, five = (Server(env={"GOALS_PER_USER_LIMIT": str(n)}) for n in (3, 5))
    try:

        def create(service) -> tuple[int, str | None]:
            answer = requests.post(f"{service.url}{GOALS}", json=BODY, headers=headers, timeout=30)
            return answer.status_code, answer.json().get("detail")

        assert [create(three)[0] for _ in range(3)] == [201, 201, 201]
        assert create(three) == (
            409,
            "Goal limit reached: A user holds at most 3 goals (archived ones included).",
        )
        assert [create(five)[0] for _ in range(2)] == [201, 201]  # the same user, two more
        assert create(five) == (
            409,
            "Goal limit reached: A user holds at most 5 goals (archived ones included).",
        )
        assert create(three)[0] == 409
    finally:
        three.close()
        five.close()
    assert Goal.objects.owned_by(owner).count() == 5


def _settings_of(**env) -> subprocess.CompletedProcess:
    """delight.settings read in a fresh process with ``env``."""
    environ = {**os.environ, "DJANGO_SETTINGS_MODULE": "delight.settings", **env}
    for name, value in env.items():
        if value is None:
            environ.pop(name)
    script = "from django.conf import settings; print(settings.DATABASES['default']['OPTIONS'].get('options'))"
    return subprocess.run(
        [sys.executable, "-c", script], env=environ, capture_output=True, text=True, timeout=60
    )


def test_database_urls_own_options_are_kept():
    result = _settings_of(
        DATABASE_URL="postgresql://nobody@127.0.0.1:9/none?options=-c%20search_path%3Dpublic",
        GOALS_PER_USER_LIMIT="7",
    )
    assert result.stdout.strip() == (
        "-c search_path=public -c lock_timeout=3000ms -c statement_timeout=5000ms "
        "-c idle_in_transaction_session_timeout=10000ms -c delight.goals_per_user_limit=7"
    )


def test_session_options_escape_spaces_and_backslashes():
    from delight.postgresql.session import libpq_options as _session_options

    assert _session_options({"a.b": "x y\\z", "c.d": 1}) == "-c a.b=x\\ y\\\\z -c c.d=1"


def test_behind_a_transaction_pooler_the_service_sends_no_limit():
    """PgBouncer refuses a connection whose options it cannot track (before 1.20: any options)."""
    result = _settings_of(DATABASE_TRANSACTION_POOLING="1", GOALS_PER_USER_LIMIT=None)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "None"


def test_behind_a_transaction_pooler_a_limit_it_cannot_carry_stops_the_start():
    result = _settings_of(DATABASE_TRANSACTION_POOLING="1", GOALS_PER_USER_LIMIT="500")
    assert result.returncode != 0
    assert (
        "GOALS_PER_USER_LIMIT cannot reach PostgreSQL through a transaction-mode pooler "
        "(DATABASE_TRANSACTION_POOLING=1): unset it and set the database role's instead, "
        "ALTER ROLE <role> SET delight.goals_per_user_limit = '<limit>' (docs/DATABASE.md)."
    ) in result.stderr

"""Every database wait bounded, and a database in trouble answered in one way, in process
against the suite's real PostgreSQL (tests/ops/test_database_trouble.py tries the same from
outside, against the production server): the session settings, the client deadline, the
classification of errors, dropping a connection that is no longer good, running a statement
again where that is provably safe, migrate's own bounds, and the multi-host DATABASE_URL."""

import json
import logging
import sys
import threading
import time
from types import SimpleNamespace

import psycopg
import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.commands.migrate import Command as DjangoMigrateCommand
from django.db import DatabaseError, OperationalError, connection
from django.test import override_settings
from psycopg import errors, sql

from delight import metrics
from delight.api import _translate
from delight.env import database_from_url, env_seconds
from delight.postgresql import deadline, trouble
from delight.postgresql.session import libpq_options, milliseconds
from goals.models import Goal
from tests.conftest import client_for
from tests.delight.test_settings import run
from tests.factories import GoalFactory
from tests.ops.tcpproxy import Proxy

GOALS = "/api/v1/goals"


def show(name: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SHOW {name}")
        return cursor.fetchone()[0]


def other_connection(**kwargs) -> psycopg.Connection:
    """A plain psycopg connection to the test database (another session)."""
    params = connection.get_connection_params()
    for name in ("cursor_factory", "context", "prepare_threshold"):
        params.pop(name, None)
    return psycopg.connect(**params, **kwargs)


def counted(kind: str) -> float:
    return metrics.DATABASE_ERRORS.labels(kind=kind)._value.get()


# --- the session settings and DATABASE_URL -------------------------------------------------


def test_session_settings_become_libpq_options():
    session = {"lock_timeout": "3000ms", "statement_timeout": "5000ms"}
    assert libpq_options(session) == "-c lock_timeout=3000ms -c statement_timeout=5000ms"
    # An options value given in DATABASE_URL is kept, and wins for what it names.
    assert (
        libpq_options(session, "-c statement_timeout=0 --search-path=app")
        == "-c statement_timeout=0 --search-path=app -c lock_timeout=3000ms"
    )
    assert libpq_options(session, "-cLOCK_TIMEOUT=1s") == (
        "-cLOCK_TIMEOUT=1s -c statement_timeout=5000ms"
    )
    assert libpq_options({"application_name": "a b\\c"}) == r"-c application_name=a\ b\\c"
    assert milliseconds(2.5) == "2500ms"
    assert milliseconds(0) == "0ms"


@pytest.mark.django_db
def test_every_connection_starts_bounded():
    assert show("lock_timeout") == "3s"
    assert show("statement_timeout") == "5s"
    assert show("idle_in_transaction_session_timeout") == "10s"
    assert connection.connection.client_timeout == django_settings.DATABASE_CLIENT_TIMEOUT == 6


def settings_options(**env) -> dict:
    code = (
        "import json, django; django.setup(); from django.conf import settings;"
        " print(json.dumps(settings.DATABASES['default']['OPTIONS']))"
    )
    result = run(
        [sys.executable, "-c", code],
        DJANGO_DEBUG="1",
        DATABASE_URL="postgresql://nobody@127.0.0.1:9/none?options=-c%20search_path%3Dapp",
        **env,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_bounds_are_tunable_and_not_sent_to_a_transaction_pooler():
    options = settings_options(DATABASE_LOCK_TIMEOUT="1.5", DATABASE_CLIENT_TIMEOUT="0")
    assert options["options"] == (
        "-c search_path=app -c lock_timeout=1500ms -c statement_timeout=5000ms"
        " -c idle_in_transaction_session_timeout=10000ms -c delight.goals_per_user_limit=10000"
    )
    assert options["client_timeout"] is None  # 0: off
    # PgBouncer in transaction mode refuses (or ignores) "options": its connect_query sets
    # them; one given in DATABASE_URL is still passed on.
    pooled = settings_options(DATABASE_TRANSACTION_POOLING="1")
    assert pooled["options"] == "-c search_path=app"
    assert pooled["client_timeout"] == 6


@pytest.mark.parametrize("value", ["soon", "-1", "nan", "1e9"])
def test_a_duration_that_is_not_one_is_refused(monkeypatch, value):
    monkeypatch.setenv("DATABASE_STATEMENT_TIMEOUT", value)
    with pytest.raises(ImproperlyConfigured, match="DATABASE_STATEMENT_TIMEOUT must be"):
        env_seconds("DATABASE_STATEMENT_TIMEOUT", 5)


@pytest.mark.parametrize(
    ("url", "host", "port", "options"),
    [
        (
            "postgresql://u@h1:5432,h2:5433/db?target_session_attrs=read-write",
            "h1,h2",
            "5432,5433",
            {"target_session_attrs": "read-write"},
        ),
        ("postgresql://u@[::1]:5432,h2,[fe80::1%25eth0]/db", "::1,h2,fe80::1%eth0", "5432,,", {}),
        (
            "postgresql://u@h1,h2/db?port=6000&sslmode=require",
            "h1,h2",
            "6000",
            {"sslmode": "require"},
        ),
        ("postgresql://u@[::1]/db", "::1", "", {}),
        ("postgresql://u@%2Frun%2Fpg,10.0.0.2:6432/db", "/run/pg,10.0.0.2", ",6432", {}),
        ("postgresql:///db?host=/run/pg", "/run/pg", "", {}),
    ],
)
def test_multi_host_database_urls(url, host, port, options):
    parsed = database_from_url(url)
    assert (parsed["HOST"], parsed["PORT"], parsed["OPTIONS"]) == (host, port, options)
    assert parsed["NAME"] == "db"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql://u@h1:5432,h2:99999/db", "invalid port"),
        ("postgresql://u@h1:,h2:x/db", "invalid port"),
        ("postgresql://u@::1/db", r"IPv6 address in brackets"),
        ("postgresql://u@[::1]x/db", "invalid host"),
        ("postgresql://u@[::1/db", "cannot be read"),
    ],
)
def test_bad_multi_host_urls_are_refused(url, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        database_from_url(url)


# --- the client deadline ---------------------------------------------------------------------


def watched_connection(client_timeout: float, **params) -> deadline.WatchedConnection:
    """A connection of the service's kind to the test database (another session)."""
    given = connection.get_connection_params()
    given.pop("context")
    conn = deadline.WatchedConnection.connect(**{**given, **params}, autocommit=True)
    conn.client_timeout = client_timeout
    return conn


@pytest.fixture
def watched():
    conn = watched_connection(0.3)
    yield conn
    conn.close()


def in_a_request(body, timeout: float = 8):
    """``body()`` as a request's work: inside the middleware that gives the request its
    deadline (delight.settings puts it right after the request log's)."""
    with override_settings(DATABASE_CLIENT_TIMEOUT=timeout):
        return deadline.RequestDeadline(lambda request: body())(None)


@pytest.mark.django_db
def test_a_call_past_the_deadline_is_cut_and_its_connection_closed(watched):
    started = time.monotonic()
    with pytest.raises(trouble.NoAnswer, match="did not answer within the deadline"):
        watched.execute("SELECT pg_sleep(2)")
    assert 0.3 <= time.monotonic() - started < 1.5
    assert watched.closed
    assert trouble.classify(trouble.NoAnswer("x")).kind == "no_answer"


@pytest.mark.django_db
def test_within_tightens_and_unbounded_lifts_the_deadline(watched):
    watched.client_timeout = 8
    with deadline.within(0.2), pytest.raises(trouble.NoAnswer):
        watched.execute("SELECT pg_sleep(1)")
    with watched_connection(0.2) as short:
        with deadline.unbounded():
            assert deadline.remaining() is None
            assert short.execute("SELECT pg_sleep(0.5), 1").fetchone()[1] == 1
        # psycopg's own shorter timeouts (notifies) are its own business.
        assert list(short.notifies(timeout=0.05)) == []


@pytest.mark.django_db
def test_a_request_has_one_deadline_for_all_its_calls(watched):
    """The bound is on the request, not on each call: three calls of 0.2 s under a 0.5 s
    budget, the third is cut."""
    watched.client_timeout = 10
    seen = []

    def work():
        seen.append(deadline.remaining())
        watched.execute("SELECT pg_sleep(0.2)")
        watched.execute("SELECT pg_sleep(0.2)")
        with deadline.within(5):  # a block never loosens the request's deadline
            seen.append(deadline.remaining())
        watched.execute("SELECT pg_sleep(0.2)")

    with pytest.raises(trouble.NoAnswer):
        in_a_request(work, timeout=0.5)
    assert 0.4 < seen[0] <= 0.5
    assert seen[1] < 0.2
    assert deadline.remaining() is None  # the request is over: per call again
    assert in_a_request(deadline.remaining, timeout=0) is None  # 0: no deadline


def test_the_request_deadline_sits_right_after_the_request_log():
    assert django_settings.MIDDLEWARE[:2] == [
        "delight.requestlog.RequestLogMiddleware",
        "delight.postgresql.deadline.RequestDeadline",
    ]


@pytest.mark.django_db
def test_a_frozen_server_is_cut_at_the_deadline(watched):
    """What a stopped server looks like: the connection stays open and nothing comes back."""
    params = connection.get_connection_params()
    host = connection.settings_dict["HOST"]
    upstream = (
        f"{host}/.s.PGSQL.{params.get('port') or 5432}"
        if host.startswith("/")
        else (host, int(params.get("port") or 5432))
    )
    proxy = Proxy(upstream)
    try:
        conn = watched_connection(0.5, host="127.0.0.1", port=proxy.port)
        assert conn.execute("SELECT 1").fetchone() == (1,)
        proxy.freeze()
        started = time.monotonic()
        with pytest.raises(trouble.NoAnswer):
            conn.execute("SELECT 1")
        assert time.monotonic() - started < 1.5
        assert conn.closed
    finally:
        proxy.close()


@pytest.mark.django_db
def test_the_maintenance_connection_has_no_bounds():
    """Django's connection to the postgres database creates and drops the test databases
    (DROP DATABASE waits for a checkpoint: seconds on a busy server)."""
    with connection._nodb_cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == "0"
        cursor.execute("SHOW lock_timeout")
        assert cursor.fetchone()[0] == "0"


# --- what an error says ----------------------------------------------------------------------


def wrapped(sqlstate: str, message: str = "boom") -> DatabaseError:
    """A database error as Django raises it: its own class, from psycopg's."""
    cause = errors.lookup(sqlstate)(message)
    django_class = (
        OperationalError if isinstance(cause, psycopg.OperationalError) else DatabaseError
    )
    try:
        raise django_class(message) from cause
    except DatabaseError as exc:
        return exc


@pytest.mark.parametrize(
    ("sqlstate", "kind", "drop", "retry"),
    [
        ("25006", "read_only", True, trouble.REFUSED),
        ("57P01", "shutdown", True, trouble.LOST),
        ("57P02", "shutdown", True, trouble.LOST),
        ("57P03", "shutdown", True, trouble.LOST),
        ("55P03", "lock_timeout", False, trouble.NEVER),
        ("57014", "query_canceled", False, trouble.NEVER),
        ("25P03", "idle_in_transaction_timeout", True, trouble.NEVER),
        ("40001", "serialization", False, trouble.REFUSED),
        ("40P01", "deadlock", False, trouble.REFUSED),
        ("53300", "connection", True, trouble.NEVER),
        ("42P01", "schema", False, trouble.NEVER),
        ("42703", "schema", False, trouble.NEVER),
        ("08006", "connection", True, trouble.LOST),
        ("53100", "unavailable", False, trouble.NEVER),  # disk_full
    ],
)
def test_each_kind_of_trouble(sqlstate, kind, drop, retry):
    found = trouble.classify(wrapped(sqlstate))
    assert (found.kind, found.drop, found.retry) == (kind, drop, retry)
    assert kind in trouble.KINDS
    before = counted(kind)
    answer = _translate(wrapped(sqlstate))
    assert answer.status_code == 503
    assert counted(kind) == before + 1


def test_what_is_not_trouble_is_left_to_the_caller():
    assert trouble.classify(wrapped("0A000", "cached plan must not change result type")).kind == (
        "cached_plan"
    )
    assert trouble.classify(wrapped("0A000", "something else unsupported")) is None
    assert trouble.classify(wrapped("42601")) is None  # a syntax error: a bug, a 500
    assert trouble.classify(OperationalError("no driver error behind it")).kind == "connection"
    assert trouble.classify(psycopg.OperationalError("connection refused")).kind == "connection"
    assert trouble.classify(psycopg.InterfaceError("connection already closed")).kind == (
        "connection"
    )
    bug = wrapped("42601")
    before = counted("other")
    assert _translate(bug) is bug  # DRF leaves it to Django's JSON 500
    assert counted("other") == before + 1


@pytest.mark.django_db(transaction=True)
def test_a_real_statement_timeout_is_a_503_and_the_connection_stays(caplog):
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = '100ms'")
        with pytest.raises(OperationalError) as timed_out:
            cursor.execute("SELECT pg_sleep(2)")
        raw = connection.connection
        with caplog.at_level(logging.WARNING, logger="delight.api"):
            assert _translate(timed_out.value).status_code == 503
        cursor.execute("RESET statement_timeout")
    assert connection.connection is raw  # a timeout leaves the connection good
    (line,) = [r.getMessage() for r in caplog.records if r.name == "delight.api"]
    assert line == (
        "database query_canceled (SQLSTATE 57014): canceling statement due to statement timeout"
    )


# --- dropping a connection, running a statement again ----------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_write_refused_by_a_read_only_session_runs_again_on_a_new_connection(alice, caplog):
    goal = GoalFactory(user=alice)
    api = client_for(alice)
    assert api.get(f"{GOALS}/{goal.id}").status_code == 200
    with connection.cursor() as cursor:  # what a standby's sessions are, until they reconnect
        cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
    stale = connection.connection
    before = counted("read_only")
    with caplog.at_level(logging.WARNING, logger="delight.database"):
        response = api.patch(f"{GOALS}/{goal.id}", {"title": "Written"}, format="json")
    assert response.status_code == 200
    assert Goal.objects.get(pk=goal.pk).title == "Written"
    assert connection.connection is not stale
    assert stale.closed
    assert counted("read_only") == before + 1
    (line,) = [r.getMessage() for r in caplog.records if r.name == "delight.database"]
    assert line.startswith("database read_only (SQLSTATE 25006): cannot execute UPDATE")
    assert line.endswith("running the statement again on a new connection")


@pytest.mark.django_db(transaction=True)
def test_a_write_refused_again_on_the_new_connection_is_a_503_and_that_connection_goes_too(alice):
    """The database itself read-only (a standby): the one more run is refused too; nothing runs
    a third time, and the new connection, read-only as well, is not kept either."""
    goal = GoalFactory(user=alice)
    api = client_for(alice)
    database = sql.Identifier(connection.settings_dict["NAME"])
    with other_connection(autocommit=True) as admin:
        admin.execute(
            sql.SQL("ALTER DATABASE {} SET default_transaction_read_only = on").format(database)
        )
        try:
            connection.close()  # the next connection starts read-only, as a standby's do
            response = api.patch(f"{GOALS}/{goal.id}", {"title": "Refused"}, format="json")
            assert response.status_code == 503
            assert connection.connection is None
        finally:
            admin.execute(
                sql.SQL("ALTER DATABASE {} RESET default_transaction_read_only").format(database)
            )
    assert api.patch(f"{GOALS}/{goal.id}", {"title": "Written"}, format="json").status_code == 200


def read_only_database(admin: psycopg.Connection, on: bool) -> None:
    database = sql.Identifier(connection.settings_dict["NAME"])
    change = (
        "SET default_transaction_read_only = on" if on else "RESET default_transaction_read_only"
    )
    admin.execute(sql.SQL("ALTER DATABASE {} " + change).format(database))


@pytest.mark.django_db(transaction=True)
def test_a_transaction_refused_by_a_read_only_session_runs_again_on_a_new_connection(alice, caplog):
    """Idempotency-Key's create runs in atomic(): no statement in it runs again (what came before
    in the transaction is gone), but the whole transaction does, once, on a new connection."""
    api = client_for(alice)
    assert api.get(GOALS).status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
    stale = connection.connection
    body = {"title": "Once", "goal_type": "concrete", "value_category": "craft"}
    with caplog.at_level(logging.WARNING, logger="delight.database"):
        created = api.post(GOALS, body, format="json", HTTP_IDEMPOTENCY_KEY="key-read-only")
    assert created.status_code == 201
    assert stale.closed
    (line,) = [r.getMessage() for r in caplog.records if r.name == "delight.database"]
    assert line.startswith("database read_only (SQLSTATE 25006): cannot execute INSERT")
    assert line.endswith("running the transaction again on a new connection")
    replayed = api.post(GOALS, body, format="json", HTTP_IDEMPOTENCY_KEY="key-read-only")
    assert replayed["Idempotent-Replayed"] == "true"
    assert Goal.objects.filter(user=alice, title="Once").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_transaction_refused_again_is_a_503_and_its_connection_goes(alice):
    """The database itself read-only: the one more run is refused too, and nothing runs a third
    time; the key stays free for the client's retry once the database accepts writes."""
    api = client_for(alice)
    body = {"title": "Once", "goal_type": "concrete", "value_category": "craft"}
    before = counted("read_only")
    with other_connection(autocommit=True) as admin:
        read_only_database(admin, True)
        try:
            connection.close()
            response = api.post(GOALS, body, format="json", HTTP_IDEMPOTENCY_KEY="key-standby")
            assert response.status_code == 503
            assert response["Retry-After"] == "5"
            assert connection.connection is None  # the next statement opens a new one
        finally:
            read_only_database(admin, False)
    assert counted("read_only") == before + 2  # the run, its one more run; then the 503
    created = api.post(GOALS, body, format="json", HTTP_IDEMPOTENCY_KEY="key-standby")
    assert created.status_code == 201


@pytest.mark.django_db(transaction=True)
def test_a_new_users_first_request_on_a_session_opened_while_read_only_goes_through():
    """The outside test's flake (CI): a worker's connection opened while the database was
    read-only served reads, and stayed read-only after the database accepted writes again; a new
    user's first request (which creates the account, in a transaction) was its first write."""
    api = client_for(SimpleNamespace(clerk_user_id="user_first_after_standby"))
    with other_connection(autocommit=True) as admin:
        read_only_database(admin, True)
        try:
            connection.close()
            assert show("transaction_read_only") == "on"  # this session is a standby's
        finally:
            read_only_database(admin, False)
    assert show("transaction_read_only") == "on"  # and stays one
    response = api.get(GOALS)
    assert response.status_code == 200
    assert show("transaction_read_only") == "off"
    assert get_user_model().objects.filter(clerk_user_id="user_first_after_standby").exists()


@pytest.mark.skipif(
    "prepare_threshold" not in django_settings.DATABASES["default"]["OPTIONS"],
    reason="DATABASE_PREPARED_STATEMENTS=0: no prepared plan to go stale",
)
@pytest.mark.django_db(transaction=True)
def test_a_stale_prepared_plan_runs_again_on_a_new_connection(alice):
    """A column widened under a running service (item 4): a statement prepared before it is
    refused ("cached plan must not change result type"); it runs again, freshly prepared."""
    goal = GoalFactory(user=alice)
    api = client_for(alice)
    for _ in range(7):  # past psycopg's prepare_threshold (5): now a prepared statement
        assert api.get(f"{GOALS}/{goal.id}").status_code == 200
    stale = connection.connection
    before = counted("cached_plan")
    with other_connection(autocommit=True) as admin:
        admin.execute("ALTER TABLE goals ALTER COLUMN value_category TYPE varchar(70)")
        try:
            assert api.get(f"{GOALS}/{goal.id}").status_code == 200
        finally:
            connection.close()
            admin.execute("ALTER TABLE goals ALTER COLUMN value_category TYPE varchar(50)")
    assert stale.closed
    assert counted("cached_plan") == before + 1


@pytest.mark.django_db(transaction=True)
def test_a_trigger_s_stale_plan_after_a_column_became_text_runs_again(alice):
    """Found by an operator: after ``ALTER COLUMN value_category TYPE text`` (a CharField made a
    TextField), every create on a connection that had run the history trigger before was a 500
    (42804, "type of parameter ... does not match that when preparing the plan") until the
    connection was replaced, ten minutes later; and back to varchar, every PATCH of the
    category. Each now runs again on a new connection."""
    api = client_for(alice)
    body = {"title": "Before", "goal_type": "concrete", "value_category": "craft"}
    assert api.post(GOALS, body, format="json").status_code == 201  # the trigger's plans made
    stale = connection.connection
    before = counted("cached_plan")
    with other_connection(autocommit=True) as admin:
        admin.execute("ALTER TABLE goals ALTER COLUMN value_category TYPE text")
        try:
            created = api.post(GOALS, {**body, "title": "After"}, format="json")
            assert created.status_code == 201, created.content
            goal = created.json()["id"]
            assert stale.closed
            assert counted("cached_plan") == before + 1
            patched = api.patch(f"{GOALS}/{goal}", {"value_category": "health"}, format="json")
            assert patched.status_code == 200
            stale = connection.connection
            admin.execute("ALTER TABLE goals ALTER COLUMN value_category TYPE varchar(50)")
            patched = api.patch(f"{GOALS}/{goal}", {"value_category": "growth"}, format="json")
            assert patched.status_code == 200, patched.content
            assert stale.closed
        finally:
            connection.close()
            admin.execute("ALTER TABLE goals ALTER COLUMN value_category TYPE varchar(50)")
    events = api.get(f"{GOALS}/{goal}/history").json()["results"]
    assert [e["changes"]["value_category"]["to"] for e in events] == ["growth", "health", "craft"]


@pytest.mark.django_db(transaction=True)
def test_a_read_whose_connection_went_away_runs_again_a_write_does_not():
    GoalFactory()
    with other_connection(autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [connection.connection.info.backend_pid])
        time.sleep(0.2)
        assert Goal.objects.count() == 1  # a read: safe to run again
        admin.execute("SELECT pg_terminate_backend(%s)", [connection.connection.info.backend_pid])
        time.sleep(0.2)
    with pytest.raises(OperationalError):  # a write: it may have committed; not run again
        Goal.objects.update(title="Maybe")
    assert connection.connection is None
    assert Goal.objects.filter(title="Maybe").count() == 0


@pytest.mark.django_db(transaction=True)
def test_nothing_runs_again_when_the_deadline_leaves_no_room_for_a_new_connection():
    GoalFactory()
    with other_connection(autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [connection.connection.info.backend_pid])
    time.sleep(0.2)
    with deadline.within(1.0), pytest.raises(OperationalError):  # connect_timeout is 3 s
        Goal.objects.count()
    assert Goal.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_batch_is_never_run_again_but_its_bad_connection_is_dropped():
    with connection.cursor() as cursor:
        cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
        with pytest.raises(DatabaseError, match="read-only transaction"):
            cursor.executemany("UPDATE goals SET title = %s WHERE false", [["a"], ["b"]])
    assert connection.connection is None


@pytest.mark.django_db(transaction=True)
def test_a_server_side_cursor_is_not_run_again():
    """A named cursor lives in its transaction (QuerySet.iterator()): nothing to run again on."""
    connection.ensure_connection()
    wrapper = connection.make_cursor(connection.create_cursor(name="trouble_cursor"))
    assert not connection._may_run_again(trouble.classify(wrapped("25006")), wrapper, "SELECT 1")


# --- migrate -----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_migrate_is_not_cut_but_its_own_lock_waits_are_short(monkeypatch):
    seen = {}

    def handle(self, *args, **options):
        seen.update(
            {name: show(name) for name in ("statement_timeout", "lock_timeout")},
            idle=show("idle_in_transaction_session_timeout"),
            deadline=deadline._deadline.get(),
        )
        with connection.cursor() as cursor:  # longer than the client deadline below
            cursor.execute("SELECT pg_sleep(0.6)")

    monkeypatch.setattr(DjangoMigrateCommand, "handle", handle)
    connection.ensure_connection()
    connection.connection.client_timeout = 0.3
    try:
        with deadline.within(0.3):
            call_command("migrate", verbosity=0)
    finally:
        connection.connection.client_timeout = 8
    assert seen == {
        "statement_timeout": "0",
        "lock_timeout": "2s",
        "idle": "0",
        "deadline": None,
    }
    # The session's own bounds again afterwards (the suite migrates on the connection it uses).
    assert show("statement_timeout") == "5s"
    assert show("lock_timeout") == "3s"


@pytest.mark.django_db(transaction=True)
def test_migrate_tries_again_after_a_lock_wait_and_gives_up_in_the_end(monkeypatch, settings):
    calls = []

    def handle(self, *args, **options):
        calls.append(1)
        if len(calls) < 3:
            raise wrapped("55P03", "canceling statement due to lock timeout")
        return None

    monkeypatch.setattr(DjangoMigrateCommand, "handle", handle)
    monkeypatch.setattr(time, "sleep", lambda seconds: None)
    call_command("migrate", verbosity=0)
    assert len(calls) == 3
    settings.MIGRATE_LOCK_ATTEMPTS = 2
    calls.clear()
    with pytest.raises(OperationalError, match="lock timeout"):
        call_command("migrate", verbosity=0)
    assert len(calls) == 2


# --- a lock held elsewhere, in process ---------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_locked_row_is_a_503_after_lock_timeout(alice):
    goal = GoalFactory(user=alice)
    api = client_for(alice)
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = '200ms'")
    before = counted("lock_timeout")
    try:
        with other_connection() as locker:
            locker.execute("SELECT 1 FROM goals WHERE id = %s FOR UPDATE", [goal.id])
            started = time.monotonic()
            response = api.patch(f"{GOALS}/{goal.id}", {"title": "Locked?"}, format="json")
            elapsed = time.monotonic() - started
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert 0.2 <= elapsed < 2
    assert counted("lock_timeout") == before + 1
    assert Goal.objects.get(pk=goal.pk).title == goal.title  # refused, not applied


def test_the_deadline_is_per_thread():
    seen = []

    def work():
        thread = threading.Thread(target=lambda: seen.append(deadline.remaining()))
        thread.start()
        thread.join()
        return deadline.remaining()

    assert in_a_request(work) is not None
    assert seen == [None]


# The sha256 of Django's CursorWrapper._execute source that delight.postgresql's copy (in
# _Recovering._execute) was written against (Django 5.2). A new Django that changes it fails here:
# compare the two, bring the copy in step, then record the new hash.
DJANGO_EXECUTE_SHA256 = "8a3a172b0a15ed53f80dea9d166eafd12eb83bc3723beeae00567036a5922955"


def test_the_copied_execute_matches_djangos():
    import hashlib
    import inspect

    from django.db.backends.utils import CursorWrapper

    source = inspect.getsource(CursorWrapper._execute)
    assert hashlib.sha256(source.encode()).hexdigest() == DJANGO_EXECUTE_SHA256, (
        "Django's CursorWrapper._execute changed: re-read delight/postgresql/base.py against it"
    )

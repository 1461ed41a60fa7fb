"""delight.postgresql: Django's backend with a round-trip-free health check and C timestamps."""

import datetime as dt
import time

import psycopg
import pytest
from django.db import connection

from goals.models import Goal
from tests.factories import GoalFactory

pytestmark = pytest.mark.django_db(transaction=True)


def admin_connection():
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    return psycopg.connect(**params, autocommit=True)


def test_health_check_trusts_a_quiet_connection():
    connection.ensure_connection()
    raw = connection.connection
    connection.health_check_done = False
    connection.close_if_health_check_failed()
    assert connection.health_check_done
    assert connection.connection is raw


def test_health_check_replaces_a_connection_the_server_closed():
    connection.ensure_connection()
    raw = connection.connection
    pid = raw.info.backend_pid
    with admin_connection() as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    time.sleep(0.2)  # the termination message reaches our socket
    connection.health_check_done = False
    connection.close_if_health_check_failed()
    assert connection.connection is None  # dropped: the next query reconnects
    assert Goal.objects.count() == 0


def test_timestamps_are_aware_utc_from_plain_and_named_cursors():
    goal = GoalFactory()
    plain = Goal.objects.get(pk=goal.pk).created_at
    with connection.cursor() as cursor:
        cursor.execute("SELECT '2026-01-01 10:00:00.5+05'::timestamptz")
        shifted = cursor.fetchone()[0]
    from django.db import transaction

    with transaction.atomic():  # a named (server-side) cursor
        streamed = next(Goal.objects.filter(pk=goal.pk).iterator(chunk_size=10)).created_at
    assert plain == streamed == goal.created_at
    assert plain.tzinfo == dt.UTC
    assert shifted == dt.datetime(2026, 1, 1, 5, 0, 0, 500000, tzinfo=dt.UTC)


# The sha256 of Django's DatabaseWrapper.create_cursor source that delight.postgresql's copy was
# written against (Django 5.2). A new Django that changes it fails here: compare the two, bring
# the copy in step, then record the new hash.
DJANGO_CREATE_CURSOR_SHA256 = "5309d92ffca3e8718d0054b64fcd32ce8fb9cb7f260b914e844d4efcda62f81a"


def test_the_copied_create_cursor_matches_djangos():
    import hashlib
    import inspect

    from django.db.backends.postgresql import base

    source = inspect.getsource(base.DatabaseWrapper.create_cursor)
    assert hashlib.sha256(source.encode()).hexdigest() == DJANGO_CREATE_CURSOR_SHA256, (
        "Django's create_cursor changed: re-read delight/postgresql/base.py against it"
    )


def test_the_c_loader_is_found_through_psycopgs_public_adapters():
    from psycopg.types.datetime import TimestamptzLoader

    from delight.postgresql.base import _C_TIMESTAMPTZ_LOADER

    assert _C_TIMESTAMPTZ_LOADER is not None  # psycopg[binary] is the locked dependency
    assert not issubclass(_C_TIMESTAMPTZ_LOADER, TimestamptzLoader)
    connection.ensure_connection()
    loader = connection.connection.adapters.get_loader(
        connection.connection.adapters.types["timestamptz"].oid, psycopg.pq.Format.TEXT
    )
    assert loader is _C_TIMESTAMPTZ_LOADER

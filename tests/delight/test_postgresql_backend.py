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

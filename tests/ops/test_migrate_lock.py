"""Replicas that migrate at once (issue 12, item 8): three ``manage.py migrate`` processes on a
fresh, empty database. Before the advisory lock two of them exited 1 with
``relation "users" already exists``; now one applies, the others wait and find nothing to do."""

import json
import os
import subprocess
import sys
import uuid

import psycopg
import pytest
from django.db import connection

from tests.delight.test_entrypoint import database_url
from tests.ops.servers import ROOT


@pytest.fixture
def empty_database(django_db_setup, django_db_blocker):
    """A database of its own on the suite's server, dropped afterwards."""
    name = f"migrate_race_{uuid.uuid4().hex[:8]}"
    with django_db_blocker.unblock():
        admin_url = database_url()
        suite_database = connection.settings_dict["NAME"]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield admin_url.replace(f"/{suite_database}", f"/{name}")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_concurrent_migrations_wait_for_each_other(empty_database):
    env = {
        **os.environ,
        "DATABASE_URL": empty_database,
        "DJANGO_SETTINGS_MODULE": "delight.settings",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    runs = [
        subprocess.Popen(
            [sys.executable, "manage.py", "migrate", "--noinput"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [run.communicate(timeout=240)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0], outputs
    applied = [output for output in outputs if "Applying accounts.0001_initial" in output]
    assert len(applied) == 1, outputs
    waited = [output for output in outputs if "No migrations to apply" in output]
    assert len(waited) == 2, outputs
    with psycopg.connect(empty_database) as conn:
        (users_migrations,) = conn.execute(
            "SELECT count(*) FROM django_migrations WHERE app = 'accounts' AND name = '0001_initial'"
        ).fetchone()
    assert users_migrations == 1


def migrate_output(database: str, **settings: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DATABASE_URL": database,
        "DJANGO_SETTINGS_MODULE": "delight.settings",
        "PYTHONDONTWRITEBYTECODE": "1",
        **settings,
    }
    for name in ("CLERK_ISSUER", "CLERK_AUTHORIZED_PARTIES", "CLERK_WEBHOOK_SIGNING_SECRET"):
        env.pop(name, None)
    return subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


def test_with_json_logs_the_system_checks_are_json_records(empty_database):
    """The entry point's migrate writes to the service's log stream: its configuration warnings
    (accounts.W001-W003 when the Clerk settings are unset) are JSON records, not Django's block
    of plain text (which broke every log line is JSON, `make topology`)."""
    run = migrate_output(
        empty_database, DJANGO_DEBUG="0", DJANGO_LOG_FORMAT="json", DJANGO_SECRET_KEY="k" * 50
    )
    assert run.returncode == 0, run.stderr
    lines = [line for line in (run.stdout + run.stderr).splitlines() if line.strip()]
    plan = ("Operations", "  Apply", "Running", "  Applying", "  No migrations")
    assert [line for line in lines if not line.startswith(("{", *plan))] == []
    records = [json.loads(line) for line in lines if line.startswith("{")]
    warned = {r["check_id"]: r for r in records if r["logger"] == "django.core.checks"}
    assert set(warned) == {"accounts.W001", "accounts.W002", "accounts.W003"}
    assert all(r["level"] == "WARNING" for r in warned.values())
    assert "CLERK_ISSUER is not set" in warned["accounts.W001"]["message"]


def test_with_plain_logs_the_system_checks_are_django_s_own(empty_database):
    run = migrate_output(
        empty_database, DJANGO_DEBUG="0", DJANGO_LOG_FORMAT="plain", DJANGO_SECRET_KEY="k" * 50
    )
    assert run.returncode == 0, run.stderr
    assert "System check identified some issues:" in run.stderr
    assert "(accounts.W001)" in run.stderr

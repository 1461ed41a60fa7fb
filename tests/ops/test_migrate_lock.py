"""Replicas that migrate at once (issue 12, item 8): three ``manage.py migrate`` processes on a
fresh, empty database. Before the advisory lock two of them exited 1 with
``relation "users" already exists``; now one applies, the others wait and find nothing to do."""

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

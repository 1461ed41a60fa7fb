"""The per-user goal limit (``GOALS_PER_USER_LIMIT``), enforced by PostgreSQL for every writer.

The ``goals_per_user_limit`` trigger (migrations 0005 and 0009) refuses a goal beyond the limit
of the session that writes it: the session setting ``delight.goals_per_user_limit``, which this
service sets on each of its connections (delight/settings.py, ``DATABASE_SESSION_SETTINGS``), or
``DEFAULT_LIMIT`` for a writer that sets none (psql, a script). Nothing is rewritten at
``migrate``: two services with different limits on one database each enforce their own.
docs/DATABASE.md ("The per-user limit") says why, and what a transaction-mode pooler changes.
"""

TRIGGER = "goals_per_user_limit"
SESSION_SETTING = "delight.goals_per_user_limit"
DEFAULT_LIMIT = 10_000  # migration 0009's, for writers that set none


def limit_reached(exc: Exception) -> int | None:
    """The limit, when ``exc`` (a database error) is the trigger refusing a goal; else None.

    It is the limit the trigger applied (the writer's session setting, or the default): what
    the 409 names."""
    diag = getattr(getattr(exc, "__cause__", None), "diag", None)
    if diag is None or diag.constraint_name != TRIGGER:
        return None
    return int(diag.message_detail)

"""Writing goals, through the ORM. Each write is one SQL statement, and the goal returned holds
what the database wrote (id, defaults, the trigger's ``updated_at``)."""

from collections.abc import Collection
from datetime import datetime

from django.db import IntegrityError
from django.db.models.sql.subqueries import UpdateQuery
from psycopg import sql

from goals import limits
from goals.models import Goal, GoalStatus


class StaleGoal(Exception):
    """The goal changed since the version the client named (``If-Match``)."""


class GoalLimitReached(Exception):
    """The owner already holds ``GOALS_PER_USER_LIMIT`` goals."""

    def __init__(self, limit: int):
        super().__init__(f"A user holds at most {limit} goals (archived ones included).")
        self.limit = limit


def goal_create(*, user, **fields) -> Goal:
    """``Goal.objects.create``: one ``INSERT ... RETURNING`` (id, status and timestamps come from
    the database defaults). PostgreSQL refuses a goal beyond the owner's limit (migration 0005)."""
    try:
        return Goal.objects.create(user=user, **fields)
    except IntegrityError as exc:
        limit = limits.limit_reached(exc)
        if limit is None:
            raise
        raise GoalLimitReached(limit) from None


def goal_update(
    *, goal: Goal, changes: dict, expected_versions: Collection[datetime] | None = None
) -> Goal:
    """Apply ``changes`` to ``goal`` in one ``UPDATE ... RETURNING updated_at``.

    The row is matched within its owner's goals (``owned_by``) and, with ``expected_versions``
    (the ``updated_at`` values the client's ``If-Match`` names), at one of those versions, in
    the same statement: checking the version and writing are atomic, so of two writers holding
    the same version exactly one succeeds and the other gets ``StaleGoal``. An empty ``changes``
    writes nothing (``updated_at`` keeps its value).
    """
    if expected_versions is not None and goal.updated_at not in expected_versions:
        raise StaleGoal
    if not changes:
        return goal
    target = Goal.objects.owned_by(goal.user_id).filter(pk=goal.pk)
    if expected_versions is not None:
        target = target.filter(updated_at__in=expected_versions)
    row = _update_returning(target, changes, "updated_at")
    if row is None:
        if expected_versions is not None:
            raise StaleGoal
        raise Goal.DoesNotExist("The goal no longer exists.")
    for name, value in changes.items():
        setattr(goal, name, value)
    (goal.updated_at,) = row
    return goal


def goal_archive(*, goal: Goal, expected_versions: Collection[datetime] | None = None) -> Goal:
    """Soft delete: status ``archived``, row kept. Archiving an archived goal changes nothing."""
    changes = {} if goal.is_archived else {"status": GoalStatus.ARCHIVED}
    return goal_update(goal=goal, changes=changes, expected_versions=expected_versions)


def _update_returning(queryset, changes: dict, *returning: str) -> tuple | None:
    """``queryset.update(**changes)``, returning the named columns of the row it changed.

    The statement is the ORM's own (``QuerySet.update`` builds the same ``UpdateQuery``), with a
    ``RETURNING`` clause added: Django 5.2 cannot return values from an update, and reading the
    trigger's ``updated_at`` afterwards would cost a second query and could see a later write.
    """
    query = queryset.query.chain(UpdateQuery)
    query.add_update_values(changes)
    compiler = query.get_compiler(queryset.db)
    statement, params = compiler.as_sql()
    columns = [sql.Identifier(queryset.model._meta.get_field(name).column) for name in returning]
    composed = sql.SQL("{} RETURNING {}").format(sql.SQL(statement), sql.SQL(", ").join(columns))
    with compiler.connection.cursor() as cursor:
        cursor.execute(composed, params)
        return cursor.fetchone()

"""Writing goals: each change is one SQL statement, and the instance returned holds what the
database wrote (ids, defaults and the trigger's ``updated_at``)."""

from collections.abc import Collection
from datetime import datetime
from functools import cache

from django.db import connection

from goals.models import Goal, GoalStatus


class StaleGoal(Exception):
    """The goal changed since the version the client named (``If-Match``)."""


_DATABASE_SET = ("id", "status", "created_at", "updated_at")  # what PostgreSQL may fill in


@cache
def _insert_sql(names: tuple[str, ...]) -> str:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(Goal._meta.get_field(name).column) for name in names)
    returning = ", ".join(quote(name) for name in _DATABASE_SET)
    placeholders = ", ".join(["%s"] * len(names))
    return (
        f"INSERT INTO {quote(Goal._meta.db_table)} ({columns}) "  # noqa: S608 - names are ours
        f"VALUES ({placeholders}) RETURNING {returning}"
    )


def goal_create(*, user, **fields) -> Goal:
    """One ``INSERT ... RETURNING``: id, the status default and the timestamps come from
    PostgreSQL. (The same statement ``Goal.objects.create()`` sends, without compiling it anew
    on every request: docs/PERFORMANCE.md.)"""
    goal = Goal(user=user, **fields)
    names = ("user", *fields)
    params = [
        Goal._meta.get_field(name).get_db_prep_save(
            getattr(goal, Goal._meta.get_field(name).attname), connection
        )
        for name in names
    ]
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(names), params)
        returned = cursor.fetchone()
    for name, value in zip(_DATABASE_SET, returned, strict=True):
        setattr(goal, name, value)
    goal._state.adding = False
    goal._state.db = connection.alias
    return goal


def goal_update(
    *, goal: Goal, changes: dict, expected_versions: Collection[datetime] | None = None
) -> Goal:
    """Apply ``changes`` to ``goal`` with one ``UPDATE ... RETURNING updated_at``.

    ``expected_versions`` (the ``updated_at`` values the client's ``If-Match`` names) goes into
    the same statement's ``WHERE``, so checking the version and writing are atomic: of two
    writers holding the same version, exactly one succeeds and the other gets ``StaleGoal``.
    An empty ``changes`` writes nothing (``updated_at`` keeps its value). The row is matched by id
    *and* owner, so a goal can only be changed through its owner's scope.
    """
    if expected_versions is not None and goal.updated_at not in expected_versions:
        raise StaleGoal
    if not changes:
        return goal
    fields = [Goal._meta.get_field(name) for name in changes]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    params = [field.get_db_prep_save(changes[field.name], connection) for field in fields]
    sql = (
        f"UPDATE {quote(Goal._meta.db_table)} SET {assignments} "  # noqa: S608 - names are ours
        "WHERE id = %s AND user_id = %s"
    )
    params += [goal.pk, goal.user_id]
    if expected_versions is not None:
        sql += " AND updated_at = ANY(%s)"
        params.append(list(expected_versions))
    with connection.cursor() as cursor:
        cursor.execute(sql + " RETURNING updated_at", params)
        row = cursor.fetchone()
    if row is None:
        if expected_versions is not None:
            raise StaleGoal
        raise Goal.DoesNotExist("The goal no longer exists.")
    for field in fields:
        setattr(goal, field.attname, changes[field.name])
    goal.updated_at = row[0]
    return goal


def goal_archive(*, goal: Goal, expected_versions: Collection[datetime] | None = None) -> Goal:
    """Soft delete: status ``archived``, row kept. Archiving an archived goal changes nothing."""
    if goal.is_archived:
        return goal_update(goal=goal, changes={}, expected_versions=expected_versions)
    return goal_update(
        goal=goal, changes={"status": GoalStatus.ARCHIVED}, expected_versions=expected_versions
    )

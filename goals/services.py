"""Writing goals: each change is one SQL statement, and the instance returned holds what the
database wrote (ids, defaults and the trigger's ``updated_at``)."""

from django.db import connection

from goals.models import Goal, GoalStatus


def goal_create(*, user, **fields) -> Goal:
    """One ``INSERT ... RETURNING``: id, status default and timestamps come from PostgreSQL."""
    return Goal.objects.create(user=user, **fields)


def goal_update(*, goal: Goal, changes: dict) -> Goal:
    """Apply ``changes`` to ``goal`` with one ``UPDATE ... RETURNING updated_at``.

    An empty ``changes`` writes nothing (and ``updated_at`` keeps its value). The row is matched
    by id *and* owner, so a goal can only be changed through its owner's scope.
    """
    if not changes:
        return goal
    fields = [Goal._meta.get_field(name) for name in changes]
    for field in fields:
        setattr(goal, field.attname, changes[field.name])
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    params = [field.get_db_prep_save(getattr(goal, field.attname), connection) for field in fields]
    sql = (
        f"UPDATE {quote(Goal._meta.db_table)} SET {assignments} "  # noqa: S608 - names are ours
        "WHERE id = %s AND user_id = %s RETURNING updated_at"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, goal.pk, goal.user_id])
        row = cursor.fetchone()
    if row is None:
        raise Goal.DoesNotExist("The goal no longer exists.")
    goal.updated_at = row[0]
    return goal


def goal_archive(*, goal: Goal) -> Goal:
    """Soft delete: status ``archived``, row kept. Archiving an archived goal changes nothing."""
    if goal.is_archived:
        return goal
    return goal_update(goal=goal, changes={"status": GoalStatus.ARCHIVED})

"""Writing goals, through the ORM. Each write is one SQL statement, and the goal returned holds
what the database wrote (id, defaults, the trigger's ``updated_at``). The statements are the
ORM's own (``objects.create``, ``QuerySet.update``), compiled once (goals.prepared).

These are the API's writes, each of the owner's goal for the owner: their statements start with
the ``user`` marker, so the history PostgreSQL keeps records them as the user's (goals.history),
at no cost per request."""

from collections.abc import Collection
from datetime import datetime

from django.db import IntegrityError, router
from django.db.models import DateTimeField

from goals import history, limits, selectors
from goals.models import Actor, Goal, GoalStatus
from goals.prepared import Differs, PreparedInsert, PreparedUpdate, Slot

# Goal.objects.create, its INSERT compiled once (speed-up, docs/PERFORMANCE.md).
GOAL_INSERT = PreparedInsert(Goal, prefix=history.marked(Actor.USER))


class StaleGoal(Exception):
    """The goal changed since the version the client named (``If-Match``)."""


class GoalLimitReached(Exception):
    """The owner already holds ``GOALS_PER_USER_LIMIT`` goals."""

    def __init__(self, limit: int):
        super().__init__(f"A user holds at most {limit} goals (archived ones included).")
        self.limit = limit


def goal_create(*, user, **fields) -> Goal:
    """``Goal.objects.create``'s ``INSERT ... RETURNING``, compiled once (``GOAL_INSERT``): id,
    status and timestamps come from the database defaults. PostgreSQL refuses a goal beyond
    the owner's limit (migration 0005)."""
    try:
        goal = GOAL_INSERT.create(user_id=user.pk, **fields)
    except IntegrityError as exc:
        limit = limits.limit_reached(exc)
        if limit is None:
            raise
        raise GoalLimitReached(limit) from None
    goal.user = user
    return goal


def goal_update(
    *, goal: Goal, changes: dict, expected_versions: Collection[datetime] | None = None
) -> Goal:
    """Apply ``changes`` to ``goal`` in one ``UPDATE ... RETURNING updated_at``.

    The row is matched within its owner's goals (``owned_by``) and, with ``expected_versions``
    (the ``updated_at`` values the client's ``If-Match`` names), at the version read if it is
    one of them, in the same statement: checking the version and writing are atomic, so of two
    writers holding the same version exactly one succeeds and the other gets ``StaleGoal``.
    A field given the value it already has is left out; with nothing left to change nothing is
    written (``updated_at``, the version, keeps its value).
    """
    if expected_versions is not None and goal.updated_at not in expected_versions:
        raise StaleGoal
    changes = {name: value for name, value in changes.items() if getattr(goal, name) != value}
    if not changes:
        return goal
    # With If-Match, the row must still be at the version read, which the client named: one
    # value whatever the header lists (a statement sized by the header would be the client's
    # to grow), and stricter than "any version named": a change since the read is a 412.
    versioned = expected_versions is not None
    row = GOAL_UPDATE.run(
        changes,
        shape={"versioned": versioned},
        owner=goal.user_id,
        pk=goal.pk,
        **({"version": goal.updated_at} if versioned else {}),
    )
    if row is None:
        if versioned:
            raise StaleGoal
        raise Goal.DoesNotExist("The goal no longer exists.")
    for name, value in changes.items():
        setattr(goal, name, value)
    (goal.updated_at,) = row
    return goal


def goal_patch(
    *, user, pk, changes: dict, expected_versions: Collection[datetime] | None = None
) -> Goal:
    """Apply ``changes`` to the user's goal ``pk`` (a ``PATCH``) and return the goal as written.

    Without ``If-Match`` (``expected_versions`` None) that is one statement: ``UPDATE ...
    RETURNING`` the whole row (``GOAL_PATCH``), matching the user's goal only where one of the
    fields sent differs from what it holds. When it matches nothing, the goal is read: it is not
    the user's (``Http404``, as a read of it would be), or the body changes nothing and the goal
    is returned as it is (its ``updated_at``, the version, unmoved: other clients' ``If-Match``
    still holds). With ``If-Match``, or with nothing sent, the goal is read first
    (``goal_update``: the version the client named is checked against the one read, and the
    write is made at that version).
    """
    if expected_versions is not None or not changes:
        goal = selectors.goal_get(user=user, pk=pk)
        return goal_update(goal=goal, changes=changes, expected_versions=expected_versions)
    row = GOAL_PATCH.run(
        changes,
        shape={"versioned": False, "unless_same": tuple(sorted(changes))},
        owner=user.pk,
        pk=pk,
    )
    if row is None:
        return selectors.goal_get(user=user, pk=pk)
    return Goal.from_db(router.db_for_write(Goal), _COLUMNS, row)


def goal_archive(*, goal: Goal, expected_versions: Collection[datetime] | None = None) -> Goal:
    """Soft delete: status ``archived``, row kept. Archiving an archived goal changes nothing."""
    changes = {} if goal.is_archived else {"status": GoalStatus.ARCHIVED}
    return goal_update(goal=goal, changes=changes, expected_versions=expected_versions)


def _updated(*, versioned: bool, unless_same: tuple[str, ...] = ()):
    """The goal ``goal_update`` writes: its owner's, by id (and at the version read); with
    ``unless_same``, only if one of those fields would change (``goal_patch``)."""
    target = Goal.objects.owned_by(Slot("owner")).filter(pk=Slot("pk"))
    if unless_same:
        target = target.filter(Differs(Goal, unless_same))
    if not versioned:
        return target
    return target.filter(updated_at=Slot("version", DateTimeField()))


# queryset.update(**changes) with RETURNING updated_at, compiled once per set of changed
# fields, with or without the version check (speed-up, docs/PERFORMANCE.md).
GOAL_UPDATE = PreparedUpdate(
    _updated, model=Goal, returning=("updated_at",), prefix=history.marked(Actor.USER)
)


# Every column of the goal, in the model's order: what a PATCH answers with, read from the row it
# wrote (goal_patch).
_COLUMNS = tuple(field.attname for field in Goal._meta.concrete_fields)

# The same UPDATE, returning the whole row, and only where a field would change: a PATCH without
# If-Match needs no read first. Compiled once per set of fields sent (at most 63 sets).
GOAL_PATCH = PreparedUpdate(
    _updated, model=Goal, returning=_COLUMNS, prefix=history.marked(Actor.USER)
)

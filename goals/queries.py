"""The API's hottest reads, compiled from the ORM once per process instead of once per request.

Building a query with the ORM (filter(), then compiling it to SQL) costs more Python time than
PostgreSQL takes to answer it (docs/PERFORMANCE.md). These few queries have a fixed shape, so each
is built once, through the same ``GoalQuerySet`` methods every other caller uses (``owned_by``,
``visible``), with stand-in values; the SQL is kept and later run with the real values in their
places. Anything else (filters, orderings) goes through the ORM as usual.
"""

import uuid
from functools import cached_property

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL

from goals.models import Goal, GoalStatus
from goals.serializers import READ_COLUMNS


def _stand_in_owner(pk):
    """A user for ``owned_by()``, unsaved: the query only needs its key."""
    return get_user_model()(pk=pk)


class CompiledQuery:
    """``build(*args)`` -> QuerySet, compiled once with stand-in arguments.

    Every parameter of the compiled SQL is either one of the stand-ins (replaced by the real
    argument at each call) or a constant of the query itself (kept). Stand-ins are random UUIDs,
    so they cannot be mistaken for a constant.
    """

    def __init__(self, build, arity: int):
        self._build = build
        self._arity = arity

    @cached_property
    def _compiled(self) -> tuple[str, list]:
        stand_ins = [uuid.uuid4() for _ in range(self._arity)]
        sql, params = self._build(*stand_ins).query.sql_with_params()
        slots = []
        for param in params:
            matches = [
                i
                for i, stand_in in enumerate(stand_ins)
                if param in (stand_in, stand_in.hex, str(stand_in))
            ]
            slots.append(("arg", matches[0]) if matches else ("const", param))
        return sql, slots

    def sql_and_params(self, *args) -> tuple[str, list]:
        sql, slots = self._compiled
        return sql, [args[value] if kind == "arg" else value for kind, value in slots]

    def fetch(self, *args, suffix: str = "", extra: tuple = ()) -> list[tuple]:
        sql, params = self.sql_and_params(*args)
        with connection.cursor() as cursor:
            cursor.execute(sql + suffix, [*params, *extra])
            return cursor.fetchall()


def _detail(owner_pk, goal_pk):
    return (
        Goal.objects.owned_by(_stand_in_owner(owner_pk))
        .filter(pk=goal_pk)
        .values_list(*READ_COLUMNS)
    )


def _visible_page(owner_pk):
    return Goal.objects.owned_by(_stand_in_owner(owner_pk)).visible().values_list(*READ_COLUMNS)


GOAL_ROW = CompiledQuery(_detail, 2)
VISIBLE_PAGE = CompiledQuery(_visible_page, 1)


def goal_row(owner, goal_pk) -> tuple | None:
    """One goal of ``owner`` as ``READ_COLUMNS`` values, or None."""
    rows = GOAL_ROW.fetch(owner.pk, goal_pk)
    return rows[0] if rows else None


def goal_total(owner, status: str | None = None) -> int:
    """How many goals ``owner`` has with ``status``, or visible ones (all but archived) without.

    Read from ``goal_counts``, which a trigger keeps exact (migration 0003): a few rows, however
    many goals. ``tests/goals/test_counts.py`` holds it equal to ``COUNT(*)``.
    """
    if status is None:
        condition, params = "status <> %s", [GoalStatus.ARCHIVED]
    else:
        condition, params = "status = %s", [status]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COALESCE(SUM(n), 0) FROM goal_counts WHERE user_id = %s AND {condition}",  # noqa: S608
            [owner.pk, *params],
        )
        return int(cursor.fetchone()[0])


class GoalRows:
    """A list's rows, as pagination asks for them: ``count()``, a window (``rows[a:b]``) and the
    rows after a keyset position (``after()``, for ``?cursor=``).

    ``queryset`` is the list's ``values_list(*READ_COLUMNS)`` in its order. ``counted`` says its
    total is ``goal_total(owner, status)`` (no filter, or a status filter) rather than a COUNT(*).
    ``precompiled`` says it is the default list, whose page query is compiled once.
    """

    def __init__(self, queryset, owner, *, status=None, counted=False, precompiled=False):
        self.queryset = queryset
        self.owner = owner
        self.status = status
        self.counted = counted
        self.precompiled = precompiled

    def count(self) -> int:
        return goal_total(self.owner, self.status) if self.counted else self.queryset.count()

    def __getitem__(self, window: slice) -> list[tuple]:
        if self.precompiled:
            return VISIBLE_PAGE.fetch(
                self.owner.pk,
                suffix=" LIMIT %s OFFSET %s",
                extra=(window.stop - window.start, window.start),
            )
        return list(self.queryset[window])

    def after(self, created_at, goal_id, limit: int) -> list[tuple]:
        """The ``limit`` rows after (``created_at``, ``goal_id``) in the default order (newest
        first): one index range scan, however deep."""
        return list(
            self.queryset.alias(
                before=RawSQL(
                    '("goals"."created_at", "goals"."id") < (%s, %s)',
                    (created_at, goal_id),
                    output_field=BooleanField(),
                )
            ).filter(before=True)[:limit]
        )

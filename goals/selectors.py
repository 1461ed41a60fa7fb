"""Reading goals: one function per read, each the one place that decides how its query is made.

Every read is scoped by ``Goal.objects.owned_by`` (another user's goal does not exist here) and
built from the queryset methods every caller uses. Two reads are answered by a query prepared
once (goals.prepared: the ORM's own SQL, compiled at the first run) because they are what clients
send most and building the ORM query cost more Python time than PostgreSQL took to answer it
(docs/PERFORMANCE.md): the goal by id, and the default first page of the list. Each keeps its
equivalence test with the ORM (tests/goals/test_prepared.py).
"""

import uuid

from django.db import router
from django.db.models import CharField, Count, Expression, Q, Value, Window
from django.http import Http404

from goals.filters import GoalListParams
from goals.models import Goal
from goals.pagination import GoalPage, encode_cursor
from goals.prepared import PreparedQuery, Slot
from goals.serializers import GoalSerializer

# The goal by id within its owner's goals, whatever its status.
GOAL_BY_ID = PreparedQuery(
    lambda: Goal.objects.owned_by(Slot("owner")).filter(pk=Slot("pk")), model=Goal
)


def goal_get(*, user, pk: uuid.UUID) -> Goal:
    """The user's goal ``pk`` (any status), or ``Http404``: one query, prepared."""
    found = GOAL_BY_ID.rows(owner=user.pk, pk=pk)
    if not found:
        raise Http404
    (row,) = found
    return Goal.from_db(router.db_for_read(Goal), row._fields, row)


def rows_of(queryset, *, owner: Expression, also: tuple[str, ...] = ()):
    """The goals as rows of a page: each goal's JSON written by PostgreSQL (``goal``, the
    serializer's representation), and its position (``created_at``, ``id``) for a cursor.
    ``owner``: the owner's public id (an expression: a value, or a prepared query's slot)."""
    with_json = queryset.annotate(goal=GoalSerializer.written_by_postgresql(owner))
    return with_json.values_list("goal", "created_at", "id", *also, named=True)


def counted(queryset, *, owner: Expression):
    """Rows of a page that each carry the total of the whole list, ``total_goals``: the first
    page and the total in one round trip (``COUNT(*) OVER ()`` counts the rows the page is cut
    from)."""
    window = queryset.annotate(total_goals=Window(Count("*")))
    return rows_of(window, owner=owner, also=("total_goals",))


def after(queryset, created_at, goal_id: uuid.UUID):
    """The goals after (``created_at``, ``goal_id``) in the default order (newest first).

    ``created_at <= c`` is the index range (it starts the scan at the position, however deep);
    the rest only decides the few rows that share that instant.
    """
    return queryset.filter(
        Q(created_at__lte=created_at) & (Q(created_at__lt=created_at) | Q(pk__lt=goal_id))
    )


# The default list (no filter, newest first) of a Slot's owner, counted: what GoalListParams
# gives with no parameter (tests/goals/test_prepared.py holds the two equal).
DEFAULT_FIRST_PAGE = PreparedQuery(
    lambda: counted(
        GoalListParams.shown(Goal.objects.owned_by(Slot("owner")), {}),
        owner=Slot("owner_id", CharField()),
    ),
    model=Goal,
)


def first_page(*, user, params: GoalListParams, listed) -> tuple[list, int]:
    """The first page and the total in one round trip; the default list's from a query prepared
    once (speed-ups, docs/PERFORMANCE.md). ``listed()``: the list's queryset, built if needed."""
    if params.is_default_list():
        rows = DEFAULT_FIRST_PAGE.rows(
            owner=user.pk, owner_id=user.public_id, limit=params.page_size
        )
    else:
        rows = list(counted(listed(), owner=Value(user.public_id))[: params.page_size])
    return rows, rows[0].total_goals if rows else 0


def goal_page(*, user, params: GoalListParams) -> GoalPage:
    """The page of the user's goals that ``params`` (validated) ask for.

    - the first page: its rows and the total in one query; the default list's (no filter, no
      ordering: what every client opens with) from a query prepared once;
    - a deeper page: the total first, so a page past the end costs that count alone;
    - after a cursor: the total, then the rows after the cursor's position (an index range).
    """
    size = params.page_size
    owner = Value(user.public_id)

    def listed():
        return params.filter_queryset(Goal.objects.owned_by(user))

    if params.cursor is not None:
        page_number = None
        total = listed().count()
        rows = list(rows_of(after(listed(), *params.cursor), owner=owner)[: size + 1])
        more = len(rows) > size
        rows = rows[:size]
    else:
        page_number = params.page
        offset = (page_number - 1) * size
        if offset == 0:
            rows, total = first_page(user=user, params=params, listed=listed)
        else:
            total = listed().count()
            rows = (
                []
                if offset >= total
                else list(rows_of(listed(), owner=owner)[offset : offset + size])
            )
        more = offset + len(rows) < total
    next_cursor = encode_cursor(rows[-1]) if rows and more and params.default_order else None
    return GoalPage(
        goals=[row.goal for row in rows],
        total=total,
        page=page_number,
        page_size=size,
        next_cursor=next_cursor,
    )

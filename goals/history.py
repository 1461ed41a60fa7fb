"""A goal's past: every write that changes a tracked field, kept by PostgreSQL (goal_events), read
a page at a time, and summed up as insights.

Who writes the events: triggers on ``goals`` (migration 0011: a goal created, changed, moved to
another owner), so every writer is recorded whatever path it takes: the API's prepared INSERT and
UPDATE, the admin, a management command, ``QuerySet.update()``, plain SQL. A write that changes
none of the tracked fields (``models.TRACKED_FIELDS``) records nothing: the trigger's function
compares them (not a ``WHEN`` clause, which would stop a column it names being widened).

Why triggers of our own, not django-pghistory (checked against its 3.9 source, with this
project's settings):

- Its context (who wrote) is attached by prepending ``SELECT set_config(...), set_config(...);``
  to every statement run inside ``pghistory.context()``. With psycopg's server-side binding
  (``server_side_binding``, our default: prepared statements, docs/PERFORMANCE.md) that is two
  statements in one extended-protocol query, which PostgreSQL refuses ("cannot insert multiple
  commands into a prepared statement"); it works only with client-side binding, which gives up
  the prepared statements. Each write in a context also pays the JSON encoding of the context
  in Python, a second statement, and an upsert of the context row (``_pgh_attach_context()``)
  per event.
- Its events are snapshots of the whole row; the contract's ``changes`` (exactly the changed
  fields, from/to) would be computed at every read from each event and the one before it (its
  ``Events`` proxy does it with a correlated subquery per row). Here the trigger stores them
  once, and a page of history is one index range.
- Its context rows (``pghistory_context``) are shared, keyed by a request id: erasing a person
  would mean finding their metadata among everyone's.

Who wrote (``Actor``): the writer names itself with a comment at the very start of its statement
text, ``/* delight.actor=user */``, which the trigger reads from ``current_query()``. The marker
travels with the statement, so nothing outlives it: no session setting for a pooled connection
to carry to the next client (PgBouncer in transaction mode), no ``SET LOCAL`` round trip, no
transaction to open. The API's writes carry it in their SQL, compiled once (goals.services):
nothing is added per request. The admin marks every statement of its goal pages (``acting_as``).
A statement without a marker is ``system``. Values a client sends are never at the start of a
statement's text (they are parameters, or, with client-side binding, placed after the SQL that
names them), so a client cannot claim another actor.

When: ``clock_timestamp()`` at the write, not the statement's start: of two writes to one goal,
the second waits for the first's row lock and is dated after it (``statement_timestamp()`` could
date it before, when it started first). The newest-first order is ``occurred_at DESC, id DESC``.

What it costs a write: nothing in Python, about 50 µs of PostgreSQL's work (the event's row and
its indexes, mostly); 1 to 6 % of a create's CPU, 8 to 9 % of a patch's (docs/DATABASE.md,
scripts/history_cost.py).
"""

import base64
import binascii
import contextlib
import datetime as dt
import uuid
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import orjson
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import BooleanField, Count, Func, Q
from psycopg import sql
from rest_framework import serializers

from goals.models import Actor, Goal, GoalEvent, GoalStatus, GoalType, ValueCategory

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
DUE_SOON_DAYS = 30
# What an event is, as the API shows it (and the order of its columns in the queries below).
EVENT_FIELDS = ("id", "goal_id", "occurred_at", "action", "actor", "changes")


def marked(actor: str) -> str:
    """The comment a statement starts with to be recorded as written by ``actor`` (the trigger
    recognises ``user`` and ``staff``; anything else is ``system``)."""
    return f"/* delight.actor={actor} */ "


@contextlib.contextmanager
def acting_as(actor: str, using: str = DEFAULT_DB_ALIAS):
    """Every statement sent on ``using`` in this block starts with ``actor``'s marker: what it
    writes to goals is recorded as ``actor``'s. (Nothing is sent: the marker goes with each
    statement, so it cannot outlive the block on a pooled connection.)"""
    prefix = marked(actor)

    def mark(execute, statement, params, many, context):
        if isinstance(statement, sql.Composable):
            statement = sql.SQL(prefix) + statement
        elif isinstance(statement, str):
            statement = prefix + statement
        return execute(statement, params, many, context)

    with connections[using].execute_wrapper(mark):
        yield


# --- Cursors --------------------------------------------------------------------------------

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def encode_cursor(occurred_at: dt.datetime, event_id: uuid.UUID) -> str:
    """An opaque position after an event, in the newest-first order."""
    micros = (occurred_at - _EPOCH) // dt.timedelta(microseconds=1)
    return base64.urlsafe_b64encode(f"{micros}.{event_id.hex}".encode()).decode().rstrip("=")


def decode_cursor(token: str) -> tuple[dt.datetime, uuid.UUID]:
    try:
        micros, event_id = (
            base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode().split(".")
        )
        return _EPOCH + dt.timedelta(microseconds=int(micros)), uuid.UUID(hex=event_id)
    except (ValueError, binascii.Error, OverflowError, UnicodeDecodeError):
        raise serializers.ValidationError("Invalid cursor.") from None


@dataclass(frozen=True)
class Page:
    results: list[dict]
    next_cursor: str | None


def _page(rows: list, page_size: int) -> Page:
    """A page from up to ``page_size + 1`` rows (one more tells whether another page follows)."""
    events = [dict(zip(EVENT_FIELDS, row, strict=True)) for row in rows[:page_size]]
    more = len(rows) > page_size
    last = events[-1] if events and more else None
    return Page(events, encode_cursor(last["occurred_at"], last["id"]) if last else None)


# --- Selectors ------------------------------------------------------------------------------

# One statement: the goal, if it is the user's (the ORM's own owned_by query), and a page of its
# events beside it (LEFT JOIN LATERAL): no row is a 404, one row with no event an empty page.
# The events are one backward range of idx_goal_events_goal, from the cursor on.
_GOAL_HISTORY = sql.SQL("""
SELECT e.id, g.id, e.occurred_at, e.action, e.actor, e.changes
  FROM ({goal}) g
  LEFT JOIN LATERAL (
        SELECT id, occurred_at, action, actor, changes FROM goal_events
         WHERE goal_id = g.id {after}
         ORDER BY occurred_at DESC, id DESC
         LIMIT %s) e ON true
 ORDER BY e.occurred_at DESC, e.id DESC
""")
# After (occurred_at, id) in the newest-first order: the first term bounds the index range, the
# rest only decides between events of the same microsecond (goals.pagination.after does the same).
_AFTER = sql.SQL("AND occurred_at <= %s AND (occurred_at < %s OR id < %s)")


def goal_history_statement(*, user, goal_id: uuid.UUID, params: dict) -> tuple[sql.Composed, list]:
    """The statement (and its parameters) of a page of the goal's history (``_GOAL_HISTORY``)."""
    goal, goal_params = (
        Goal.objects.owned_by(user)
        .filter(pk=goal_id)
        .order_by()
        .values("id")
        .query.sql_with_params()
    )
    after, after_params = sql.SQL(""), []
    if params.get("cursor"):
        at, event_id = params["cursor"]
        after, after_params = _AFTER, [at, at, event_id]
    statement = _GOAL_HISTORY.format(goal=sql.SQL(goal), after=after)
    return statement, [*goal_params, *after_params, params["page_size"] + 1]


def goal_history_page(*, user, goal_id: uuid.UUID, params: dict) -> Page | None:
    """A page of the goal's events, newest first; None if the goal is not ``user``'s."""
    with connection.cursor() as cursor:
        cursor.execute(*goal_history_statement(user=user, goal_id=goal_id, params=params))
        rows = cursor.fetchall()
    if not rows:
        return None
    # jsonb comes as text (Django leaves decoding to JSONField.from_db_value).
    found = [(*row[:5], orjson.loads(row[5])) for row in rows if row[0] is not None]
    return _page(found, params["page_size"])


class IsTrue(Func):
    """``(<condition>) IS TRUE``: the same rows, but an ``IN (SELECT ...)`` inside stays a
    hashed subplan (built once, a hash probe per row) instead of becoming a join, so the events
    are still read in order from the owner's index and the page stops after 51 matches. As a
    join, a prepared statement's generic plan probed the goals' index once per event, or
    intersected the owner's whole range with each goal's (docs/DATABASE.md: at 51,791 events, a
    filter matching none of them read them in 58 ms this way, 580 ms as a join)."""

    template = "(%(expressions)s) IS TRUE"
    output_field = BooleanField()
    conditional = True


def user_history_page(*, user, params: dict) -> Page:
    """A page of the events of all ``user``'s goals, newest first, within the filters:
    ``occurred_after`` / ``occurred_before`` (inclusive), ``goal_type`` / ``value_category``
    (the goal's current ones)."""
    events = GoalEvent.objects.owned_by(user)
    if params.get("occurred_after"):
        events = events.filter(occurred_at__gte=params["occurred_after"])
    if params.get("occurred_before"):
        events = events.filter(occurred_at__lte=params["occurred_before"])
    kind = {name: params[name] for name in ("goal_type", "value_category") if params.get(name)}
    if kind:
        chosen = Goal.objects.owned_by(user).filter(**kind).order_by().values("id")
        events = events.filter(IsTrue(Q(goal__in=chosen)))
    if params.get("cursor"):
        at, event_id = params["cursor"]
        events = events.filter(
            Q(occurred_at__lte=at) & (Q(occurred_at__lt=at) | Q(id__lt=event_id))
        )
    page_size = params["page_size"]
    rows = events.order_by("-occurred_at", "-id").values_list(*EVENT_FIELDS)[: page_size + 1]
    return _page(list(rows), page_size)


# Completed goals: when each last became completed (its latest event whose status went to
# completed: one backward probe of idx_goal_events_completed per goal, whose predicate is written
# here exactly as the index's), and the day that was in the caller's zone. A completed goal with
# no such event left (its events deleted by hand) counts from its last change, updated_at.
_COMPLETIONS = sql.SQL("""
SELECT count(*),
       count(*) FILTER (WHERE (completed_at AT TIME ZONE %s)::date <= target_date),
       count(*) FILTER (WHERE (completed_at AT TIME ZONE %s)::date > target_date),
       count(*) FILTER (WHERE target_date IS NULL),
       round((percentile_cont(0.5) WITHIN GROUP (
           ORDER BY extract(epoch FROM completed_at - created_at)::float8) / 86400)::numeric, 1)
  FROM (SELECT g.target_date, g.created_at, coalesce(last.at, g.updated_at) AS completed_at
          FROM ({goals}) g
          LEFT JOIN LATERAL (
                SELECT max(occurred_at) AS at FROM goal_events
                 WHERE user_id = %s AND goal_id = g.id
                   AND (changes #> '{{status,to}}') = '"completed"'::jsonb) last ON true
       ) completed
""")


def completions(*, user, tz: ZoneInfo) -> tuple[sql.Composed, list]:
    """The statement (and its parameters) summing up ``user``'s completed goals in ``tz``:
    the user's completed goals as the ORM selects them (``owned_by``), inside ``_COMPLETIONS``."""
    goals, goal_params = (
        Goal.objects.owned_by(user)
        .filter(status=GoalStatus.COMPLETED)
        .order_by()
        .values("id", "target_date", "created_at", "updated_at")
        .query.sql_with_params()
    )
    statement = _COMPLETIONS.format(goals=sql.SQL(goals))
    return statement, [tz.key, tz.key, *goal_params, user.pk]


def goal_insights(*, user, tz: ZoneInfo) -> dict:
    """The user's goals summed up (the contract's insights), in two queries whatever their
    number: counts by type, category and status (with the deadlines), and the completions."""
    today = dt.datetime.now(tz).date()
    soon = today + dt.timedelta(days=DUE_SOON_DAYS)
    counted = (
        Goal.objects.owned_by(user)
        .values_list("goal_type", "value_category", "status")
        .annotate(
            goals=Count("*"),
            overdue=Count("id", filter=Q(target_date__lt=today)),
            due=Count("id", filter=Q(target_date__gte=today, target_date__lte=soon)),
        )
        .order_by()
    )
    by_category = {category: dict.fromkeys(GoalStatus.values, 0) for category in ValueCategory}
    by_type = {goal_type: dict.fromkeys(GoalStatus.values, 0) for goal_type in GoalType}
    overdue = due_soon = 0
    for goal_type, category, status, goals, late, due in counted:
        by_category[category][status] += goals
        by_type[goal_type][status] += goals
        if status in (GoalStatus.ACTIVE, GoalStatus.PAUSED):
            overdue += late
            due_soon += due
    for counts in by_type.values():
        pursued = counts["active"] + counts["paused"] + counts["completed"]
        counts["completion_rate"] = counts["completed"] / pursued if pursued else None

    with connection.cursor() as cursor:
        cursor.execute(*completions(user=user, tz=tz))
        count, on_time, late, undated, median = cursor.fetchone()
    return {
        "today": today,
        "by_value_category": by_category,
        "by_goal_type": by_type,
        "completed": {
            "count": count,
            "on_time": on_time,
            "late": late,
            "without_target_date": undated,
            "median_days_to_complete": None if median is None else float(median),
        },
        "overdue": overdue,
        "due_within_30_days": due_soon,
    }


PRUNE_BATCH = 5_000
# A batch of prunable events, each a statement of its own (autocommit): a first prune of a long
# history is many short deletes, each well inside the statement bound (5 s, docs/RELIABILITY.md),
# instead of one that would run into it, be cancelled and delete nothing, every night.
_PRUNE = """
DELETE FROM goal_events WHERE id IN (
    SELECT id FROM goal_events
     WHERE occurred_at < now() - make_interval(days => %s)
       AND action = 'updated' AND NOT changes ? 'status'
     LIMIT %s)
"""


def prune(*, older_than_days: int, batch: int = PRUNE_BATCH) -> int:
    """Delete the events older than ``older_than_days`` that neither created a goal nor changed
    its status (edits of its title, description, type, category or date), ``batch`` at a time;
    how many went.

    What stays: every goal's created event (its history still starts at the beginning) and every
    status change (archived, restored, completed: what insights read). Events are never edited,
    but they may be deleted: here, with their goal, and with their owner."""
    deleted = 0
    with connection.cursor() as cursor:
        while True:
            cursor.execute(_PRUNE, [older_than_days, batch])
            deleted += cursor.rowcount
            if cursor.rowcount < batch:
                return deleted


__all__ = [
    "Actor",
    "acting_as",
    "goal_history_page",
    "goal_insights",
    "prune",
    "user_history_page",
]

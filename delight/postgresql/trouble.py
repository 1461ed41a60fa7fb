"""What a database error says about the database, decided in one place.

Every error a request meets from PostgreSQL goes through ``classify``: the cursor
(``delight.postgresql.base``) uses it to drop a connection that is no longer good and to run a
statement again where that is provably safe, and the API (``delight.api``) to answer 503 with
``Retry-After`` and to count and log the case. An error that is none of these (a constraint,
a bad value, a bug) is left to the caller: ``classify`` returns None.

A ``Trouble`` says:

- ``kind``: the label of ``delight_database_errors_total`` and of the log line;
- ``drop``: the connection is no good any more (it is read-only, holds a plan the schema no
  longer matches, or its server is going away): close it, so the next statement opens a new one
  (with a multi-host ``DATABASE_URL`` and ``target_session_attrs=read-write``, on whichever
  server accepts writes now);
- ``retry``: when the statement may run once more on a new connection, if it ran alone
  (autocommit, outside ``atomic()``): ``REFUSED``, the server refused it before it changed
  anything (a statement in autocommit is its own transaction, and an error rolls it back), so
  any statement may; ``LOST``, the connection went away while the statement ran, so a write may
  or may not have committed and only a read may; ``NEVER``, the time is spent (a timeout) or
  the transaction is gone.

SQLSTATEs: https://www.postgresql.org/docs/current/errcodes-appendix.html
"""

from dataclasses import dataclass

import psycopg

NEVER, REFUSED, LOST = "never", "refused", "lost"


@dataclass(frozen=True)
class Trouble:
    kind: str
    drop: bool
    retry: str


class NoAnswer(psycopg.OperationalError):
    """The server did not answer a call within the service's own deadline (the connection is
    closed: ``delight.postgresql.deadline``)."""


# A statement prepared before a schema change whose result columns changed type (a column
# widened): PostgreSQL refuses to run it, and only a new connection (a new PREPARE) helps.
CACHED_PLAN = "cached plan must not change result type"
# The same in a PL/pgSQL function (the history trigger, goals/migrations/0011): the session keeps
# the plans of the function's statements, typed by the row's columns, and a column whose type
# changed (varchar to text: a CharField made a TextField) makes them fail with 42804
# datatype_mismatch, "type of parameter 20 (text) does not match that when preparing the plan
# (character varying)", for the session's life (an operator found every create a 500 for ten
# minutes, until CONN_MAX_AGE replaced the connections).
FUNCTION_PLAN = "does not match that when preparing the plan"

_BY_SQLSTATE = {
    # A standby after a failover, or default_transaction_read_only: the session stays
    # read-only even after the server accepts writes again, so it is dropped.
    "25006": Trouble("read_only", drop=True, retry=REFUSED),
    # admin_shutdown (pg_terminate_backend, a fast shutdown), crash_shutdown, cannot_connect_now
    "57P01": Trouble("shutdown", drop=True, retry=LOST),
    "57P02": Trouble("shutdown", drop=True, retry=LOST),
    "57P03": Trouble("shutdown", drop=True, retry=LOST),
    "55P03": Trouble("lock_timeout", drop=False, retry=NEVER),  # lock_not_available
    # query_canceled: statement_timeout, or a cancel request (pg_cancel_backend)
    "57014": Trouble("query_canceled", drop=False, retry=NEVER),
    # The server ended the session: our transaction was idle longer than
    # idle_in_transaction_session_timeout.
    "25P03": Trouble("idle_in_transaction_timeout", drop=True, retry=NEVER),
    "40001": Trouble("serialization", drop=False, retry=REFUSED),
    "40P01": Trouble("deadlock", drop=False, retry=REFUSED),
    "53300": Trouble("connection", drop=True, retry=NEVER),  # too_many_connections
    # undefined_table / undefined_column: the schema is not the one this code expects (a
    # migration not applied yet, or a column dropped while this version still runs). Our SQL
    # is fixed, so no client causes it.
    "42P01": Trouble("schema", drop=False, retry=NEVER),
    "42703": Trouble("schema", drop=False, retry=NEVER),
}
_CACHED_PLAN = Trouble("cached_plan", drop=True, retry=REFUSED)
_NO_ANSWER = Trouble("no_answer", drop=True, retry=NEVER)
_CONNECTION = Trouble("connection", drop=True, retry=LOST)
_UNAVAILABLE = Trouble("unavailable", drop=False, retry=NEVER)

# Every kind, for the metric's series to exist from the start; and the ones a request answers
# otherwise (delight.api): 409, 422, or a 500 for a bug.
KINDS = tuple(
    sorted(
        {t.kind for t in (*_BY_SQLSTATE.values(), _CACHED_PLAN, _NO_ANSWER, _UNAVAILABLE)}
        | {"integrity", "data", "other"}
    )
)


def described(found: Trouble, exc: BaseException) -> str:
    """The log line's words for ``exc``: "database read_only (SQLSTATE 25006): cannot execute
    UPDATE in a read-only transaction" (the server's primary message, never a row's values)."""
    return (
        f"database {found.kind} (SQLSTATE {sqlstate_of(exc) or '-'}): {message(driver_error(exc))}"
    )


def driver_error(exc: BaseException) -> BaseException:
    """psycopg's exception behind Django's (Django raises its own ``from`` psycopg's)."""
    cause = exc.__cause__
    return cause if isinstance(cause, psycopg.Error) else exc


def classify(exc: BaseException) -> Trouble | None:
    """The trouble ``exc`` (a Django or psycopg database error) reports, or None."""
    error = driver_error(exc)
    if isinstance(error, NoAnswer):
        return _NO_ANSWER
    sqlstate = getattr(error, "sqlstate", None)
    if sqlstate == "0A000":
        return _CACHED_PLAN if CACHED_PLAN in message(error) else None
    if sqlstate == "42804":
        return _CACHED_PLAN if FUNCTION_PLAN in message(error) else None
    trouble = _BY_SQLSTATE.get(sqlstate)
    if trouble is not None:
        return trouble
    if isinstance(error, psycopg.InterfaceError) or (
        isinstance(error, psycopg.OperationalError) and (sqlstate is None or sqlstate[:2] == "08")
    ):
        return _CONNECTION  # refused, lost, or closed: no answer from a server at all
    if isinstance(error, psycopg.OperationalError):
        return _UNAVAILABLE  # out of disk, memory or resources (classes 53, 58), ...
    if _is_django_unavailable(exc):
        return _CONNECTION  # Django's own OperationalError/InterfaceError, without psycopg's
    return None


def _is_django_unavailable(exc: BaseException) -> bool:
    from django.db import InterfaceError, OperationalError

    return isinstance(exc, OperationalError | InterfaceError)


def message(error: BaseException) -> str:
    """The server's primary message (never its DETAIL, which may quote a row's values), or the
    driver's text for an error that has none (a connection refused)."""
    diag = getattr(error, "diag", None)
    primary = getattr(diag, "message_primary", None)
    return primary or str(error).strip().split("\n", 1)[0]


def sqlstate_of(exc: BaseException) -> str | None:
    return getattr(driver_error(exc), "sqlstate", None)

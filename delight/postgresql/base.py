"""Django's PostgreSQL backend, two costs lighter (docs/PERFORMANCE.md) and every wait bounded
(docs/RELIABILITY.md, "When the database is in trouble").

1. A health check that costs no round trip.

``CONN_HEALTH_CHECKS`` makes Django run ``SELECT 1`` before the first query of every request that
reuses a connection: a full round trip (and a query for PostgreSQL to run) on every request. Here
the check first asks the kernel, without blocking, whether anything has arrived on the idle
connection's socket. An idle connection receives nothing unless the server is going away (a
restart or shutdown sends a termination message and closes the socket), so a quiet socket is
trusted as is; anything else falls back to Django's ``SELECT 1``. A connection lost without a
word (a cable cut, no FIN) is still caught by the first query failing: that request gets a 503
and the connection is replaced at the end of it.

2. Timestamps parsed by psycopg's C loader (see ``_utc_timestamptz_loader``).

3. A deadline on every call to the server (``delight.postgresql.deadline``): connections are
``WatchedConnection``s. Django's maintenance connection (to the ``postgres`` database, for
``CREATE``/``DROP DATABASE``: the test suite's) has no bound, client or server side.

4. A database in trouble (``delight.postgresql.trouble``): a connection that is no longer good
is closed where the error shows it, and a statement that ran alone (autocommit, outside
``atomic()``) runs once more on a new connection where that is provably safe: the server
refused it (read-only, a stale prepared plan, a serialization failure or deadlock: nothing was
written), or it was a read and the connection went away. Never inside ``atomic()`` (what came
before in the transaction is gone), never a write whose connection was lost (it may have
committed), never after a timeout (the time is spent), and only while the deadline leaves room
for a new connection.
"""

import datetime as dt
import logging
import select
import warnings

import psycopg
from django.apps import apps
from django.db import DatabaseError
from django.db.backends import utils
from django.db.backends.base.base import NO_DB_ALIAS
from django.db.backends.postgresql import base
from django.utils.asyncio import async_unsafe
from psycopg import postgres, pq
from psycopg.types.datetime import TimestamptzLoader

from delight import metrics
from delight.postgresql import deadline, trouble

logger = logging.getLogger("delight.database")


def _c_timestamptz_loader():
    """psycopg's C loader for timestamptz, or None with a pure-Python psycopg.

    Django registers a Python subclass of psycopg's Python loader to pin the time zone, so every
    timestamp is parsed in Python (docs/PERFORMANCE.md: 9 % of a list request). With the session
    in UTC (Django sets it; with USE_TZ it is UTC) the C loader returns the same values. psycopg's
    global adapters map holds its fastest loader, the C one when psycopg[binary] or psycopg[c]
    is installed.
    """
    loader = postgres.adapters.get_loader(postgres.types["timestamptz"].oid, pq.Format.TEXT)
    return None if issubclass(loader, TimestamptzLoader) else loader


_C_TIMESTAMPTZ_LOADER = _c_timestamptz_loader()


class _Psycopg:
    """The psycopg module as Django's backend uses it (``DatabaseWrapper.Database``: its
    exceptions, ``connect``), but connecting with ``WatchedConnection``."""

    connect = staticmethod(deadline.WatchedConnection.connect)

    def __getattr__(self, name):
        return getattr(psycopg, name)


class _Recovering:
    """Django's cursor wrapper, which lets the connection deal with a database in trouble
    (``DatabaseWrapper.recover``): at most one more run of a statement."""

    def _execute(self, sql, params, *ignored_wrapper_args):
        # Django's own (django/db/backends/utils.py, CursorWrapper._execute), its statement in a
        # try: calling it from here would cost every query a frame (2,600 instructions).
        # tests/delight/test_database_bounds.py fails when Django's version changes.
        if not apps.ready and not apps.stored_app_configs:
            warnings.warn(self.APPS_NOT_READY_WARNING_MSG, category=RuntimeWarning)  # noqa: B028
        self.db.validate_no_broken_transaction()
        try:
            with self.db.wrap_database_errors:
                if params is None:
                    return self.cursor.execute(sql)
                return self.cursor.execute(sql, params)
        except DatabaseError as exc:
            if not self.db.recover(self, exc, sql):
                raise
        try:  # the one more run, on a new connection
            return utils.CursorWrapper._execute(self, sql, params, *ignored_wrapper_args)
        except DatabaseError as exc:
            self.db.recover(self, exc, None)  # drops a bad connection; never a third run
            raise

    def _executemany(self, sql, param_list, *ignored_wrapper_args):
        try:
            return super()._executemany(sql, param_list, *ignored_wrapper_args)
        except DatabaseError as exc:
            self.db.recover(self, exc, None)  # drops a bad connection; never runs it again
            raise


class CursorWrapper(_Recovering, utils.CursorWrapper):
    pass


class CursorDebugWrapper(_Recovering, base.CursorDebugWrapper):
    pass


class DatabaseWrapper(base.DatabaseWrapper):
    """Django's wrapper with a cheaper health check, a C timestamp parser, bounded waits and a
    way out of a database in trouble."""

    Database = _Psycopg()

    def get_connection_params(self):
        params = super().get_connection_params()
        params.pop("client_timeout", None)  # ours (the deadline), not libpq's
        return params

    def get_new_connection(self, conn_params):
        connection = super().get_new_connection(conn_params)
        if self.alias == NO_DB_ALIAS:
            # CREATE/DROP DATABASE may wait for a checkpoint on a busy server: maintenance, not
            # a request (Django uses this connection for the test database, never to serve).
            connection.execute("SET statement_timeout = 0")
            connection.execute("SET lock_timeout = 0")
            connection.commit()  # Django sets autocommit next, which needs no open transaction
        else:
            connection.client_timeout = self.settings_dict["OPTIONS"].get("client_timeout")
        if self._c_loader_applies():
            connection.adapters.register_loader("timestamptz", _C_TIMESTAMPTZ_LOADER)
        return connection

    def make_cursor(self, cursor):
        return CursorWrapper(cursor, self)

    def make_debug_cursor(self, cursor):
        return CursorDebugWrapper(cursor, self)

    def recover(self, cursor, exc: BaseException, sql) -> bool:
        """After ``exc`` from ``cursor``'s statement ``sql`` (None: not to be run again): close
        the connection if it is no longer good; True if the statement may run again, on a new
        connection now behind ``cursor``."""
        found = trouble.classify(exc)
        if found is None:
            return False
        again = self._may_run_again(found, cursor, sql)
        if found.drop or again:
            self.close()  # inside atomic(): closed now, forgotten when the block exits
        if not again:
            return False
        self._running_again(found, exc, "statement")
        self.ensure_connection()
        cursor.cursor = self.create_cursor()
        return True

    def recover_transaction(self, exc: BaseException) -> bool:
        """After ``exc`` ended a whole transaction (its outermost ``atomic()`` has exited): True
        if it may run once more (``delight.postgresql.retry``): the server refused it, so
        nothing was written, and the deadline leaves room for a new connection."""
        found = trouble.classify(exc)
        if found is None or found.retry != trouble.REFUSED or self.in_atomic_block:
            return False
        left = deadline.remaining()
        if left is not None and left <= self._reconnect_seconds():
            return False
        if found.drop:
            self.close()  # already closed where the error showed it; the next run opens anew
        self._running_again(found, exc, "transaction")
        return True

    def _running_again(self, found, exc: BaseException, what: str) -> None:
        metrics.database_error(found.kind)
        logger.warning(
            "%s; running the %s again on a new connection", trouble.described(found, exc), what
        )

    def _may_run_again(self, found, cursor, sql) -> bool:
        if found.retry == trouble.NEVER or sql is None:
            return False
        if (
            not self.autocommit
            or self.in_atomic_block
            or isinstance(cursor.cursor, psycopg.ServerCursor)
        ):
            return False  # part of a transaction, or a server-side cursor: gone with it
        if found.retry == trouble.LOST and not _is_read(sql):
            return False  # a write whose connection was lost may have committed
        left = deadline.remaining()
        return left is None or left > self._reconnect_seconds()

    def _reconnect_seconds(self) -> float:
        """The longest a new connection may take: connect_timeout for each host to try."""
        hosts = (self.settings_dict["HOST"] or "").count(",") + 1
        return float(self.settings_dict["OPTIONS"].get("connect_timeout") or 3) * hosts

    @async_unsafe
    def create_cursor(self, name=None):
        if not self._c_loader_applies():
            return super().create_cursor(name)
        # Django's own (django/db/backends/postgresql/base.py), less its last step: comparing the
        # loader's pinned time zone with the connection's (the C loader pins none; it follows
        # the session, which is UTC). tests/delight/test_postgresql_backend.py fails when
        # Django's version changes, so this copy is re-read against it.
        withhold = self.connection.autocommit
        if name is None:
            return self.connection.cursor()
        if self.settings_dict["OPTIONS"].get("server_side_binding") is not True:
            return base.ServerSideCursor(
                self.connection, name=name, scrollable=False, withhold=withhold
            )
        return self.connection.cursor(name, scrollable=False, withhold=withhold)

    def _c_loader_applies(self) -> bool:
        return _C_TIMESTAMPTZ_LOADER is not None and self.timezone == dt.UTC

    def close_if_health_check_failed(self):
        if (
            self.connection is not None
            and self.health_check_enabled
            and not self.health_check_done
            and not self.pool
            and self._socket_is_quiet()
        ):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()

    def _socket_is_quiet(self) -> bool:
        try:
            if self.connection.closed or self.connection.pgconn.status != pq.ConnStatus.OK:
                return False
            readable, _, _ = select.select([self.connection.fileno()], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable


def _is_read(sql) -> bool:
    """A statement that changes nothing (our SELECTs call no function that writes)."""
    return isinstance(sql, str) and sql.lstrip()[:6].upper() == "SELECT"

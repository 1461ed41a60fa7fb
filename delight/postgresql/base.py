"""Django's PostgreSQL backend, two costs lighter (docs/PERFORMANCE.md).

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
"""

import datetime as dt
import select

from django.db.backends.postgresql import base
from django.utils.asyncio import async_unsafe
from psycopg import postgres, pq
from psycopg.types.datetime import TimestamptzLoader


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


class DatabaseWrapper(base.DatabaseWrapper):
    """Django's wrapper with a cheaper health check and a C timestamp parser."""

    def get_new_connection(self, conn_params):
        connection = super().get_new_connection(conn_params)
        if self._c_loader_applies():
            connection.adapters.register_loader("timestamptz", _C_TIMESTAMPTZ_LOADER)
        return connection

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

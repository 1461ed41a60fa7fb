"""Django's PostgreSQL backend with a health check that costs no round trip.

``CONN_HEALTH_CHECKS`` makes Django run ``SELECT 1`` before the first query of every request that
reuses a connection: a full round trip (and a query for PostgreSQL to run) on every request. Here
the check first asks the kernel, without blocking, whether anything has arrived on the idle
connection's socket. An idle connection receives nothing unless the server is going away (a
restart or shutdown sends a termination message and closes the socket), so a quiet socket is
trusted as is; anything else falls back to Django's ``SELECT 1``. A connection lost without a
word (a cable cut, no FIN) is still caught by the first query failing: that request gets a 503
and the connection is replaced at the end of it.
"""

import select

from django.db.backends.postgresql import base
from psycopg import pq


class DatabaseWrapper(base.DatabaseWrapper):
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

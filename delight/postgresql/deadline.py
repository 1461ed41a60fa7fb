"""The service's own deadline on every call to the database server.

PostgreSQL bounds what it does itself (``lock_timeout``, ``statement_timeout``: the session
settings of ``delight.settings``), and libpq bounds a new connection (``connect_timeout``). Neither
helps when the server stops answering an open connection (a hung VM, a network partition, its
processes stopped): a worker would wait until the process manager killed it. Here the client
keeps a deadline of its own.

Every call psycopg makes to the server (a query, a fetch, a commit, the health check's
``SELECT 1``) ends in ``Connection.wait``, a loop that already wakes every 0.1 s to look at the
socket (psycopg's ``interval``, for Ctrl-C). ``WatchedConnection.wait`` gives that loop the
deadline: when it passes, the connection is closed (its socket with it) and the call raises
``NoAnswer``, which the API answers with a 503 (``delight.postgresql.trouble``). A watchdog
without a thread: nothing is started per call, no other thread ever touches a socket this one
may be reusing, and a call costs one more clock reading.

The deadline:

- in a request: ``DATABASE_CLIENT_TIMEOUT`` seconds after the request entered the app
  (``RequestDeadline``, a middleware right after the request log's), whatever number of calls the
  request makes: the whole request's time in the database is bounded, not each call's;
- outside a request (a management command, a shell): that many seconds for each call;
- ``within(seconds)`` tightens it for a block (``/readyz``); ``unbounded()`` lifts it for a block
  (``migrate``: a long migration must not be cut).

What a cut call did is unknown: a write the server received before it stopped answering may
still be applied if it wakes up (a 503 never promises the contrary after a cut; the client's
Idempotency-Key makes a retried create safe).
"""

import contextlib
from contextvars import ContextVar
from time import monotonic

import psycopg
from django.conf import settings
from psycopg import errors

from delight.postgresql.trouble import NoAnswer

_PER_CALL = "per call"  # outside a request: each call gets the connection's client_timeout

# The monotonic time by which the current work's calls must have ended; None for no deadline.
_deadline: ContextVar[float | str | None] = ContextVar("database_deadline", default=_PER_CALL)

_WAIT_INTERVAL = 0.1  # psycopg's own (psycopg.connection._WAIT_INTERVAL)
_psycopg_wait = psycopg.Connection.wait


class WatchedConnection(psycopg.Connection):
    """psycopg's connection, whose every call to the server ends by the deadline."""

    client_timeout: float | None = None  # seconds per call outside a request (set on connect)

    def wait(self, gen, interval=_WAIT_INTERVAL, timeout=None):
        deadline = _deadline.get()
        if deadline is _PER_CALL:
            limit = self.client_timeout
        elif deadline is None:
            limit = None
        else:
            limit = deadline - monotonic()
        if limit is None or (timeout is not None and timeout <= limit):
            return _psycopg_wait(self, gen, interval, timeout)  # psycopg's own, shorter timeout
        try:
            return _psycopg_wait(self, gen, interval, limit if limit > 0 else 0.0)
        except errors._WaitTimeout:
            # The socket closes with the connection: nothing more is read from or sent to this
            # server on it, and Django opens a new connection for the next statement.
            self.close()
            raise NoAnswer(
                "the database server did not answer within the deadline (DATABASE_CLIENT_TIMEOUT)"
            ) from None


def remaining() -> float | None:
    """Seconds left before the current deadline (None: none, or per call)."""
    deadline = _deadline.get()
    return deadline - monotonic() if isinstance(deadline, float) else None


@contextlib.contextmanager
def within(seconds: float):
    """The calls of this block end within ``seconds`` (or the deadline already set, if sooner)."""
    ends = monotonic() + seconds
    current = _deadline.get()
    if isinstance(current, float):
        ends = min(ends, current)
    token = _deadline.set(ends)
    try:
        yield
    finally:
        _deadline.reset(token)


@contextlib.contextmanager
def unbounded():
    """No client deadline for the calls of this block (``migrate``)."""
    token = _deadline.set(None)
    try:
        yield
    finally:
        _deadline.reset(token)


class RequestDeadline:
    """Middleware: the request's database calls end ``DATABASE_CLIENT_TIMEOUT`` seconds after it
    entered the app (``0``: no deadline). Right after the request log's middleware
    (delight.settings puts it there), so that everything the request does is inside it. A
    middleware rather than Django's request signals: one frame, where a receiver of
    ``request_started`` and one of ``request_finished`` cost 17,000 instructions a request."""

    def __init__(self, get_response):
        self.get_response = get_response
        # Read once: an attribute of Django's settings object costs thousands of instructions.
        self.timeout = settings.DATABASE_CLIENT_TIMEOUT

    def __call__(self, request):
        timeout = self.timeout
        token = _deadline.set(monotonic() + timeout if timeout else None)
        try:
            return self.get_response(request)
        finally:
            _deadline.reset(token)

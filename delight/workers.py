"""gunicorn's sync worker, with a deadline on each read from and write to the client.

A sync worker reads the request itself and serves one connection at a time: a client that sends
half a request and goes quiet holds the worker (two of them stopped /healthz of a two-worker
server: issue 12, item 9). gunicorn's ``timeout`` ends that, but only by killing the worker (its
database connection and warm caches go with it), after 30 s. Here every client socket gets a
timeout (``GUNICORN_CLIENT_TIMEOUT``, 10 s by default): a client silent that long mid-request is
dropped, and the worker takes the next connection. A client that trickles a byte within each
deadline is still bounded by ``timeout``. The real guard is the buffering proxy in front
(deploy/nginx/delight.conf.template): it reads whole requests before a worker sees them, and its
own client timeouts bound the slow clients (https://docs.gunicorn.org/en/stable/deploy.html).
"""

import logging
import os

from gunicorn.workers import sync

CLIENT_TIMEOUT_SECONDS = float(os.environ.get("GUNICORN_CLIENT_TIMEOUT", "").strip() or "10")


class SyncWorker(sync.SyncWorker):
    def handle(self, listener, client, addr):
        client.settimeout(CLIENT_TIMEOUT_SECONDS)
        super().handle(listener, client, addr)


class ClientTimeoutFilter(logging.Filter):
    """gunicorn logs a socket timeout as "Socket error processing request." with a traceback at
    ERROR; a client that went quiet is not a server error: one line at INFO."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], TimeoutError):
            record.msg = "a client sent nothing for %ss; its connection was closed"
            record.args = (CLIENT_TIMEOUT_SECONDS,)
            record.exc_info = record.exc_text = None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True

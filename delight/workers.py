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

from gunicorn import glogging
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


class Logger(glogging.Logger):
    """gunicorn's logger, which builds its access line only when the line will be written.

    With a ``logconfig_dict`` (gunicorn.conf.py's) gunicorn counts its access log as on and
    builds every request's atoms (a dict of twenty-odd fields, the date formatted) before
    ``gunicorn.access`` drops the record, which it does unless ``GUNICORN_ACCESS_LOG`` asks for
    the line: 3-4 % of a worker's time on a single-goal request (docs/PERFORMANCE.md).

    A ``logger_class`` of our own also ends gunicorn's switch to its StatsD logger when
    ``statsd_host`` is set: this service's metrics are Prometheus (``METRICS_PORT``), and a
    StatsD setting says so at start rather than sending nothing in silence."""

    def __init__(self, cfg):
        super().__init__(cfg)
        if cfg.statsd_host:
            self.warning("statsd_host is ignored: metrics are served for Prometheus (METRICS_PORT)")

    def access(self, resp, req, environ, request_time):
        if self.access_log.isEnabledFor(logging.INFO):
            super().access(resp, req, environ, request_time)

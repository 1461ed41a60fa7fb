"""gunicorn settings for production (the Dockerfile's command, the loopback topology of
scripts/topology.py). Every value can be overridden by an environment variable or on the
command line. Always behind a buffering proxy (deploy/nginx/delight.conf.template): see
docs/SCALING.md."""

import multiprocessing
import os
import shutil
import tempfile

# --- Prometheus (delight.metrics), first: before anything imports prometheus_client -----------
# Multiprocess mode: each worker writes its samples under PROMETHEUS_MULTIPROC_DIR, which must be
# set before prometheus_client is first imported (in the workers, forked from here) and must
# start empty (https://prometheus.github.io/client_python/multiprocess/). Without the variable a
# private directory is made for this server and removed when it exits.
_own_metrics_dir = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if _own_metrics_dir:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="delight-metrics-")
_metrics_dir = os.environ["PROMETHEUS_MULTIPROC_DIR"]
from delight import requestlog  # noqa: E402 - after PROMETHEUS_MULTIPROC_DIR is set


def _env(name: str, default: str) -> str:
    """A variable's value, or ``default`` when unset or blank (compose passes ``${NAME:-}``)."""
    return os.environ.get(name, "").strip() or default


bind = f"0.0.0.0:{_env('PORT', '8000')}"
# Sync workers: each request holds one worker, which holds one persistent database connection.
# Rule: 2 x cores + 1, at most what the database's max_connections allows across all replicas
# (docs/SCALING.md).
workers = int(_env("WEB_CONCURRENCY", str(multiprocessing.cpu_count() * 2 + 1)))
worker_class = "delight.workers.SyncWorker"
# A worker that has not reported for this long is killed and replaced: the bound on any one
# request, including one whose client sends its headers or body slowly (a sync worker reads the
# request itself: https://docs.gunicorn.org/en/stable/design.html#sync-workers). The proxy in
# front buffers whole requests, so the app never meets a slow client there; GUNICORN_CLIENT_TIMEOUT
# (delight.workers) ends a client that goes silent mid-request sooner, without killing the worker.
timeout = int(_env("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
# Recycle workers now and then: bounds the damage of any slow leak in a dependency.
max_requests = int(_env("GUNICORN_MAX_REQUESTS", "0"))
max_requests_jitter = max_requests // 10

# Header limits above the app's own: a Clerk token may be 8 KiB (accounts.clerk.MAX_TOKEN_BYTES),
# and "Authorization: Bearer " comes on top. gunicorn's default field limit (8,190 bytes) answered
# a valid 8,170-byte token with its own HTML 431 before the app could see it (issue 12, item 4).
# At four times the cap every answer about a token is the app's JSON 401; nginx in front has the
# same limit (large_client_header_buffers in deploy/nginx/delight.conf.template).
limit_request_field_size = 32768
limit_request_line = 8190  # gunicorn's maximum; a URL of this service is a few hundred bytes
limit_request_fields = 100

# Whom to believe about X-Forwarded-Proto: the proxy only (FORWARDED_ALLOW_IPS, read by gunicorn
# itself and, for X-Forwarded-For, by delight.throttling).
forwarded_allow_ips = _env("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# gunicorn 25+ opens a control socket under $HOME by default: one path for every gunicorn of the
# user, which two replicas on one machine (the loopback topology) would fight over; unused here.
control_socket_disable = True

# Logs: the app writes one access line per request (delight.requestlog); gunicorn's own lines go
# to the same stdout in the same format.
accesslog = _env("GUNICORN_ACCESS_LOG", "") or None  # "-" for gunicorn's own access line
logger_class = "delight.workers.Logger"  # builds gunicorn's access line only when it is written
errorlog = "-"
logconfig_dict = requestlog.logging_config(
    fmt=requestlog.log_format(),
    level=_env("DJANGO_LOG_LEVEL", "INFO").upper(),
    # gunicorn's loggers do not propagate (glogging): give them the handler themselves.
    loggers={
        "gunicorn.error": {
            "level": _env("DJANGO_LOG_LEVEL", "INFO").upper(),
            "handlers": ["console"],
            "filters": ["client_timeout"],
            "propagate": False,
        },
        # Off unless GUNICORN_ACCESS_LOG asks for it: the app's own line says more.
        "gunicorn.access": {
            "level": "INFO" if accesslog else "WARNING",
            "handlers": ["console"],
            "propagate": False,
        },
    },
    filters={"client_timeout": {"()": "delight.workers.ClientTimeoutFilter"}},
)

_exporter = None


def on_starting(server):
    for name in os.listdir(_metrics_dir):  # a previous run's samples are not this run's
        path = os.path.join(_metrics_dir, name)
        if name.endswith(".db") and os.path.isfile(path):
            os.unlink(path)


def when_ready(server):
    """The exporter, in the master, on its own port (METRICS_PORT; none when unset)."""
    global _exporter
    port = _env("METRICS_PORT", "")
    if port:
        from delight import metrics

        # Loopback unless told: the metrics say what runs here and how much; compose opens them
        # to its internal network (METRICS_ADDR=0.0.0.0), never to the published port.
        addr = _env("METRICS_ADDR", "127.0.0.1")
        _exporter = metrics.start_exporter(port=int(port), addr=addr, multiprocess_dir=_metrics_dir)
        server.log.info("metrics on %s:%s", addr, port)


def post_fork(server, worker):
    if _exporter is not None:  # the master's listening socket is not the worker's business
        _exporter[0].socket.close()


def child_exit(server, worker):
    from delight import metrics

    metrics.mark_process_dead(worker.pid, _metrics_dir)


def on_exit(server):
    if _own_metrics_dir:
        shutil.rmtree(_metrics_dir, ignore_errors=True)

"""Prometheus metrics: what an operator needs to see the service is healthy (docs/SCALING.md).

Recorded with the official client (prometheus-client). Under the production server
(``python -m delight.serve``) every worker is its own process, so the client runs in its
multiprocess mode: each process writes its samples to files in ``PROMETHEUS_MULTIPROC_DIR``
(delight.serve makes and empties that directory and tells the client when a worker dies), and
the exporter adds them up (https://prometheus.github.io/client_python/multiprocess/). The
exporter listens on its own port (``METRICS_PORT``, started by the server's main process), never
on the public one: the proxy knows nothing of it and the public cannot reach it.

Labels are bounded: the route is the URL pattern (``/api/v1/goals/{pk}``, ``unmatched`` for
anything else), the method one of the HTTP methods the service knows (else ``other``).

Other modules count through the small functions below, never through the metric objects:
``key_fetch`` (accounts.clerk, on each JWKS fetch), ``database_error`` (where a database error
is answered or run again), ``rate_limited`` (delight.throttling).
"""

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client import multiprocess as _multiprocess

from delight.postgresql.trouble import KINDS as DATABASE_ERROR_KINDS

_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

REQUESTS = Counter(
    "delight_http_requests",
    "HTTP requests answered, by route pattern, method and status.",
    ["route", "method", "status"],
)
# Requests of this service take milliseconds (docs/PERFORMANCE.md): fine buckets below 100 ms,
# coarse ones up to the worker timeout.
LATENCY = Histogram(
    "delight_http_request_duration_seconds",
    "Time from the request reaching Django to its answer, by route pattern and method.",
    ["route", "method"],
    buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
DATABASE_ERRORS = Counter(
    "delight_database_errors",
    "Database errors met by requests, by kind (delight.postgresql.trouble: lock_timeout,"
    " read_only, no_answer, ... each answered 503 or run again; integrity 409, data 422,"
    " other 500).",
    ["kind"],
)
KEY_FETCHES = Counter(
    "delight_jwks_fetches",
    "Fetches of Clerk's JSON Web Key Set, by outcome (ok or failed).",
    ["outcome"],
)
RATE_LIMITED = Counter(
    "delight_rate_limited",
    "Requests refused with 429, by what was limited (user or address).",
    ["scope"],
)


# The series of a known label value exist from the start, at 0: a rate() or an alert on
# "failed fetches" then sees the first one as a change, not as a series appearing from nothing.
for _outcome in ("ok", "failed"):
    KEY_FETCHES.labels(outcome=_outcome)
for _scope in ("user", "address"):
    RATE_LIMITED.labels(scope=_scope)
for _kind in DATABASE_ERROR_KINDS:
    DATABASE_ERRORS.labels(kind=_kind)


def observe_request(*, route: str, method: str, status: int, seconds: float) -> None:
    method = method if method in _KNOWN_METHODS else "other"
    REQUESTS.labels(route=route, method=method, status=str(status)).inc()
    LATENCY.labels(route=route, method=method).observe(seconds)


def key_fetch(*, ok: bool) -> None:
    """One fetch of the JWKS: call it after each attempt (accounts.clerk)."""
    KEY_FETCHES.labels(outcome="ok" if ok else "failed").inc()


def database_error(kind: str) -> None:
    """A database error that a request met, by its kind (``delight.postgresql.trouble.KINDS``)."""
    DATABASE_ERRORS.labels(kind=kind).inc()


def rate_limited(scope: str) -> None:
    RATE_LIMITED.labels(scope=scope).inc()


def start_exporter(*, port: int, addr: str, multiprocess_dir: str) -> tuple:
    """Serve every process's metrics, summed, on ``addr:port`` from a thread of the calling
    process (the server's main process: it outlives the workers whose samples it adds up)."""
    registry = CollectorRegistry()
    _multiprocess.MultiProcessCollector(registry, path=multiprocess_dir)
    return start_http_server(port, addr=addr, registry=registry)


def mark_process_dead(pid: int, multiprocess_dir: str) -> None:
    """Drop a dead worker's live samples (counters and histograms are kept: they only grow)."""
    _multiprocess.mark_process_dead(pid, multiprocess_dir)

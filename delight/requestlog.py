"""One log line per request, and a request id on every log line written while it runs.

The id is the client's (or the proxy's) ``X-Request-ID`` when it is a sane token, else a new one;
it is echoed in the response's ``X-Request-ID``. The access line says method, route (the URL
pattern, ``/api/v1/goals/{pk}``, never the raw path with its ids), status, duration and the user
when known: never a header, a token, a query string or a body.

Each request is also counted here for Prometheus (delight.metrics: route, method, status,
duration), from the same values as its log line.

Two formats, one switch (``DJANGO_LOG_FORMAT``, see ``log_format``): ``plain`` lines for people
(``make run``: DEBUG on), JSON lines for machines (production: DEBUG off), one object a line with
``time``, ``level``, ``logger``, ``message``, ``request_id`` and, on the access line, ``http``
(method, route, status, duration_ms, user_id). The JSON comes from python-json-logger (its
orjson formatter), a formatter for the standard ``logging`` module that Django, gunicorn
(gunicorn.conf.py uses ``logging_config`` too) and our code already write to. Whatever a line
carries, text shaped like a bearer token is replaced by ``[redacted]`` before it is written
(``RedactTokensFilter``).

Each request is logged once, here: Django's ``django.request`` logger is kept to server errors
(it would repeat every 4xx as a WARNING) and ``runserver``'s own access line is off. A client's
4xx is INFO (the service did its job), a 5xx is ERROR.
"""

import contextvars
import json
import logging
import logging.config
import re
import time
import uuid

from django.conf import settings
from django.urls import Resolver404, resolve
from django.utils.functional import SimpleLazyObject, empty
from pythonjsonlogger.orjson import OrjsonFormatter

from delight import metrics
from delight.env import env_bool, env_str

logger = logging.getLogger("delight.request")

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_SANE_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")
_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")


def current_request_id() -> str:
    return _request_id.get()


class RequestIdFilter(logging.Filter):
    """Puts ``request_id`` on every record (``-`` outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        return True


# A JWT (three base64url parts, the first two JSON objects: "eyJ" is '{"' encoded) or what follows
# "Bearer ": credentials, never to be written anywhere.
_TOKEN = re.compile(r"eyJ[\w-]*\.eyJ[\w-]*\.[\w-]*|(?i:bearer)\s+[\w.~+/=-]+")


class RedactTokensFilter(logging.Filter):
    """Replaces anything token-shaped in a record's message (and exception text) by
    ``[redacted]``: a safety net under the rule that no code logs a credential."""

    def filter(self, record: logging.LogRecord) -> bool:
        # The message made once: the formatter reads it again, then without formatting.
        message = record.getMessage()
        record.msg, record.args = _TOKEN.sub("[redacted]", message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text and _TOKEN.search(record.exc_text):
            # Formatters use exc_text only when exc_info is gone (python-json-logger included).
            record.exc_text = _TOKEN.sub("[redacted]", record.exc_text)
            record.exc_info = None
        return True


class SuspiciousRequestFilter(logging.Filter):
    """A request Django refuses as suspicious (``django.security.*``: a Host not in
    ``ALLOWED_HOSTS``, too many fields, ...) is the client's mistake, answered 400 and counted
    on its access line. Django logs it at ERROR with a traceback and the request, whose URL may
    hold what a person typed (``?q=``): here it is one WARNING with what was wrong."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("django.security."):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info = record.exc_text = None
            record.__dict__.pop("request", None)
        return True


class JSONFormatter(OrjsonFormatter):
    """One JSON object a line: ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``,
    ``request_id``, ``pid`` (the worker process that wrote it: several write to one stdout),
    then whatever the record carries in ``extra`` (``http`` on access lines). Encoded by orjson
    (python-json-logger's own formatter for it): the standard library's encoder took 2.5 % of a
    single-goal request (docs/PERFORMANCE.md)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("fmt", ["levelname", "name", "message", "request_id", "process"])
        kwargs.setdefault(
            "rename_fields", {"levelname": "level", "name": "logger", "process": "pid"}
        )
        kwargs.setdefault("timestamp", "time")
        super().__init__(*args, **kwargs)

    def jsonify_log_record(self, log_data) -> str:
        try:
            return super().jsonify_log_record(log_data)
        except TypeError:
            # orjson refuses a lone surrogate and an integer beyond 64 bits, and logging would
            # drop the line: the standard library writes both (escaped, as a string).
            return json.dumps(log_data, default=str)


PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


def log_format() -> str:
    """``DJANGO_LOG_FORMAT``: ``json`` or ``plain``; unset, JSON unless ``DJANGO_DEBUG`` is on."""
    value = (env_str("DJANGO_LOG_FORMAT") or "").lower()
    if value in {"json", "plain"}:
        return value
    if value:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(f"DJANGO_LOG_FORMAT must be json or plain (got {value!r}).")
    return "plain" if env_bool("DJANGO_DEBUG", default=False) else "json"


def configure_logging(config: dict) -> None:
    """Django's ``LOGGING_CONFIG``: ``dictConfig``, and records that leave out what no line of
    ours shows (the caller's file, line and function, found by walking the stack; the thread's
    and the multiprocessing process's names): the logging HOWTO's "Optimization". The process
    id stays: every JSON line carries it (``pid``)."""
    logging._srcfile = None
    logging.logThreads = logging.logMultiprocessing = False
    logging.config.dictConfig(config)


def logging_config(
    *, fmt: str, level: str, loggers: dict | None = None, filters: dict | None = None
) -> dict:
    """The ``logging.config.dictConfig`` of the service: one console handler on stdout (where a
    container's logs are collected) with the request id and the redaction on every record."""
    formatter = (
        {"()": "delight.requestlog.JSONFormatter"} if fmt == "json" else {"format": PLAIN_FORMAT}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {"()": "delight.requestlog.RequestIdFilter"},
            "redact": {"()": "delight.requestlog.RedactTokensFilter"},
            "suspicious": {"()": "delight.requestlog.SuspiciousRequestFilter"},
            **(filters or {}),
        },
        "formatters": {"console": formatter},
        "handlers": {
            # For loggers silenced on purpose: with no handler at all, Python's "last resort"
            # would still print their warnings (runserver's own access line for every 4xx).
            "null": {"class": "logging.NullHandler"},
            "console": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
                "formatter": "console",
                "filters": ["request_id", "suspicious", "redact"],
                "level": level,
            },
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": loggers or {},
    }


class RequestLogMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")  # not request.headers: it copies all
        request_id = incoming if _SANE_ID.fullmatch(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        reset = _request_id.set(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request_id
            # This line is the answer's log line: Django's own django.request line for a 5xx
            # answer (a 503 during an outage) would come after it, without the request id.
            # (An unhandled exception is still logged by Django, with its traceback and the id.)
            response._has_been_logged = True
            duration_ms = (time.perf_counter() - started) * 1000
            status = response.status_code
            route = route_of(request)
            metrics.observe_request(
                route=route, method=request.method, status=status, seconds=duration_ms / 1000
            )
            logger.log(
                logging.ERROR if status >= 500 else logging.INFO,
                "%s %s %s %.1fms",
                request.method,
                route,
                status,
                duration_ms,
                extra={
                    "http": {
                        "method": request.method,
                        "route": route,
                        "status": status,
                        "duration_ms": round(duration_ms, 2),
                        "user_id": user_id_of(request),
                    }
                },
            )
            return response
        finally:
            _request_id.reset(reset)


def route_of(request) -> str:
    """The URL pattern that answered, as ``/api/v1/goals/{pk}``; ``/static/{path}`` for a file
    WhiteNoise served (before any URL pattern); ``unmatched`` for none."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        match = _resolve(request.path_info)  # answered before the URL was resolved (411, 413)
    if match is None:
        if request.path_info.startswith(settings.STATIC_URL):
            return settings.STATIC_URL + "{path}"
        return "unmatched"
    route = _GROUP.sub(lambda group: "{" + group[1] + "}", match.route)
    return "/" + route.replace("^", "").replace("$", "").replace("/?", "").lstrip("/")


def _resolve(path: str):
    try:
        return resolve(path)
    except Resolver404:
        return None


def user_id_of(request) -> str | None:
    """The signed-in user's public id, if this request already knew it (never a query)."""
    user = getattr(request, "user", None)
    if user is None or (isinstance(user, SimpleLazyObject) and user._wrapped is empty):
        return None
    if not user.is_authenticated:
        return None
    return getattr(user, "public_id", None) or str(user.pk)

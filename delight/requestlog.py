"""One log line per request, and a request id on every log line written while it runs.

The id is the client's (or the proxy's) ``X-Request-ID`` when it is a sane token, else a new one;
it is echoed in the response's ``X-Request-ID``. The access line says method, route (the URL
pattern, ``/api/v1/goals/{pk}``, never the raw path with its ids), status, duration and the user
when known: never a header, a token, a query string or a body.

Each request is logged once, here: Django's ``django.request`` logger is kept to server errors
(it would repeat every 4xx as a WARNING) and ``runserver``'s own access line is off. A client's
4xx is INFO (the service did its job), a 5xx is ERROR.
"""

import contextvars
import logging
import re
import time
import uuid

from django.utils.functional import SimpleLazyObject, empty

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


class RequestLogMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _SANE_ID.fullmatch(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        reset = _request_id.set(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request_id
            duration_ms = (time.perf_counter() - started) * 1000
            status = response.status_code
            logger.log(
                logging.ERROR if status >= 500 else logging.INFO,
                "%s %s %s %.1fms",
                request.method,
                route_of(request),
                status,
                duration_ms,
                extra={
                    "http": {
                        "method": request.method,
                        "route": route_of(request),
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
    """The URL pattern that answered, as ``/api/v1/goals/{pk}``; ``unmatched`` for none."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unmatched"
    route = _GROUP.sub(lambda group: "{" + group[1] + "}", match.route)
    return "/" + route.replace("^", "").replace("$", "").replace("/?", "").lstrip("/")


def user_id_of(request) -> str | None:
    """The signed-in user's public id, if this request already knew it (never a query)."""
    user = getattr(request, "user", None)
    if user is None or (isinstance(user, SimpleLazyObject) and user._wrapped is empty):
        return None
    if not user.is_authenticated:
        return None
    return getattr(user, "public_id", None) or str(user.pk)

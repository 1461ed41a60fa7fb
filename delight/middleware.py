import io

from django.conf import settings
from django.contrib.messages import middleware as messages_middleware
from django.contrib.messages.storage import default_storage
from django.urls import resolve
from django.utils.functional import SimpleLazyObject, empty
from rest_framework.response import Response

from delight import throttling
from delight.api import NOT_FOUND, error_response

# Set by proxies; believed only from a trusted one (delight.throttling.is_trusted_proxy).
_FORWARDING_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST")


class ProbeMiddleware:
    """``/healthz`` and ``/readyz`` answer whatever ``Host`` the probe sends.

    Orchestrators probe a container by its own address (Docker's ``HEALTHCHECK`` and compose's
    send ``Host: 127.0.0.1``, Kubernetes the pod's IP), never by the public name in
    ``DJANGO_ALLOWED_HOSTS``; ``CommonMiddleware``'s host check answered them 400, so a correctly
    configured replica was never healthy. The probes are answered here, before any middleware
    reads the host (or redirects to HTTPS); they build no URL from it and read no cookie. Every
    other path keeps the host check.
    """

    PATHS = frozenset({"/healthz", "/readyz"})

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info not in self.PATHS:
            return self.get_response(request)
        request.resolver_match = match = resolve(request.path_info)  # the access line's route
        return match.func(request, *match.args, **match.kwargs)


class ForwardedHeadersMiddleware:
    """Drops ``X-Forwarded-*`` from a request whose peer is not a trusted proxy.

    Django's ``SECURE_PROXY_SSL_HEADER`` believes ``X-Forwarded-Proto`` from whoever sends it;
    where the app can also be reached directly (a replica's port on an internal network), a
    client could claim HTTPS, or an address in ``X-Forwarded-For``. Without the headers it is
    what it is: its socket address, on plain HTTP.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if settings.BEHIND_PROXY and not throttling.is_trusted_proxy(
            request.META.get("REMOTE_ADDR", "")
        ):
            for name in _FORWARDING_HEADERS:
                request.META.pop(name, None)
        return self.get_response(request)


class BodySizeLimitMiddleware:
    """413 for a body over ``MAX_REQUEST_BODY_BYTES``, before anything else reads it; a chunked
    body read here, or refused with 411; 408 for a body that did not arrive in time.

    Django itself raises ``RequestDataTooBig`` only when the body is first read, deep inside a
    view, and answers 400; the contract says 413, and there is no reason to start the work.

    A body sent with ``Transfer-Encoding: chunked`` has no ``Content-Length``, and Django takes a
    missing length for an empty body: a chunked PATCH answered 200 and changed nothing (issue
    12, item 1). Whether the body can be read at all depends on the server. The production
    server (delight.serve) reads every body itself, chunked or not, and hands it on with its
    length, so a chunked body arrives here like any other. A server that decodes the chunks and
    says so with ``wsgi.input_terminated`` (the input ends where the body ends: the de facto
    WSGI extension https://gist.github.com/mitsuhiko/5721547) has the body read here, up to the
    limit, and handed on with its length. Django's runserver (and the test live server) do not
    decode chunks and give the application an empty stream: 411 Length Required, as the
    contract allows, never an empty body. Behind nginx (deploy/nginx/delight.conf.template) the
    question does not arise: it buffers the whole body and sends it on with a Content-Length.

    delight.serve reads a body within ``WEB_CLIENT_TIMEOUT``; when the client stops sending
    before the end it marks the request (``delight.request_body_timeout``), and the answer is
    408 with ``Connection: close`` (the rest of that body can never be told from the next
    request), logged and counted like any other.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        waited = request.META.get("delight.request_body_timeout")
        if waited is not None:
            return error_response(
                f"The request body did not arrive within {waited:g} seconds.",
                408,
                Connection="close",
            )
        limit = settings.MAX_REQUEST_BODY_BYTES
        if is_chunked(request.META):
            refused = read_chunked_body(request, limit)
            if refused is not None:
                return refused
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > limit:
            return too_large(limit)
        return self.get_response(request)


def is_chunked(meta) -> bool:
    """A body framed by the transfer coding, not by a length (RFC 9112 section 6.3)."""
    return "HTTP_TRANSFER_ENCODING" in meta and not meta.get("CONTENT_LENGTH")


def read_chunked_body(request, limit: int):
    """Reads a chunked body into the request (None), or the answer refusing it (411, 413, 400)."""
    if not request.META.get("wsgi.input_terminated"):
        return error_response(
            "A body without Content-Length cannot be read here: send Content-Length.", 411
        )
    try:
        body = request.META["wsgi.input"].read(limit + 1)
    except OSError:  # the client stopped sending, or sent broken chunks
        return error_response("The request body could not be read.", 400)
    if len(body) > limit:
        return too_large(limit)
    # Django built its stream from the missing length (an empty one): replace it with the body
    # read, and give the length to what checks it (DRF reads a body only when it has one).
    request._stream = io.BytesIO(body)
    request.META["CONTENT_LENGTH"] = str(len(body))
    return None


def too_large(limit: int):
    return error_response(f"Request body is too large (limit {limit} bytes).", 413)


class JSONNotFoundMiddleware:
    """Every 404 outside the admin is the contract's JSON, with DEBUG on as well.

    With DEBUG off Django answers an unknown route with ``handler404`` (JSON already); with DEBUG
    on it shows its technical page listing the URL patterns, which is not what a client of the
    API should parse under ``make run``. Kept: the admin's own pages, and DRF's answers (the
    browsable API renders its 404 as HTML for a browser on purpose). Placed before
    ``CommonMiddleware``, so ``APPEND_SLASH`` redirects still happen first.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            response.status_code == 404
            and not isinstance(response, Response)
            and response.get("Content-Type", "").startswith("text/html")
            and not request.path_info.startswith("/admin/")
        ):
            return error_response(NOT_FOUND, 404)
        return response


class MessageMiddleware(messages_middleware.MessageMiddleware):
    """Django's, with each request's message storage made when something first touches it.

    Django makes the storage (``FallbackStorage``: a cookie storage with its signer, and the
    session's) for every request, and asks it at the answer whether anything is to be stored.
    Only the admin's pages add or show messages; an API request never does, and made lazily its
    storage costs nothing (with corsheaders left out when no origin is configured, 6.6 % of a
    detail request's instructions: docs/PERFORMANCE.md). A request that touches it
    (``messages.success()``, a template reading ``messages``) gets exactly Django's behaviour.
    """

    def process_request(self, request):
        request._messages = SimpleLazyObject(lambda: default_storage(request))

    def process_response(self, request, response):
        if getattr(getattr(request, "_messages", None), "_wrapped", None) is empty:
            return response  # never made: nothing was added, nothing was read
        return super().process_response(request, response)

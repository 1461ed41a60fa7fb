"""WSGI entry point (``delight.wsgi:application``): the service's two middleware chains.

Settings load here, so a production process without its secrets or without ``DATABASE_URL``
refuses to start (see settings); it never starts a database itself.

A request to the API that carries a bearer token, no cookie, and does not ask for a page (HTML)
is served by a chain without the middleware that only pages use (``PAGES_ONLY``): sessions,
CSRF, Django's authentication, messages and login limits exist for the admin, the browsable API
and their logins, whose requests come with a session cookie and ask for HTML; the API
authenticates each request itself (DRF, the token), its views are exempt from Django's CSRF
check, and its JSON never shows a message. Everything else goes through the
whole of ``settings.MIDDLEWARE``, in the same order; the request log, the proxy headers, the
security headers, the body limits, the host check and the JSON 404s run in both.
(Speed-up, docs/PERFORMANCE.md; tests/delight/test_wsgi.py holds both chains' answers equal.)
"""

import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "delight.settings")

PAGES_ONLY = frozenset(
    {
        "delight.middleware.ProbeMiddleware",  # /healthz and /readyz, never under /api/
        "whitenoise.middleware.WhiteNoiseMiddleware",  # static files, never under /api/
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "delight.middleware.MessageMiddleware",
        "axes.middleware.AxesMiddleware",
    }
)


def is_bearer_api_request(environ) -> bool:
    """An API request that authenticates with its own token, brings no session and wants JSON."""
    return (
        environ.get("PATH_INFO", "").startswith("/api/")
        and "HTTP_COOKIE" not in environ
        and environ.get("HTTP_AUTHORIZATION", "")[:7].lower() == "bearer "
        and "html" not in environ.get("HTTP_ACCEPT", "")
    )


def api_middleware() -> list[str]:
    return [name for name in settings.MIDDLEWARE if name not in PAGES_ONLY]


def load_api_chain(handler) -> None:
    """Build ``handler``'s chain from ``api_middleware()`` (Django builds a handler's chain from
    ``settings.MIDDLEWARE``, when the handler is made)."""
    every = settings.MIDDLEWARE
    settings.MIDDLEWARE = api_middleware()
    try:
        handler.load_middleware()
    finally:
        settings.MIDDLEWARE = every


pages = get_wsgi_application()
api = get_wsgi_application()
load_api_chain(api)


def application(environ, start_response):
    handler = api if is_bearer_api_request(environ) else pages
    return handler(environ, start_response)

"""The headers of what a browser shows, and of answers that hold one person's data.

``PageHeadersMiddleware`` adds, after the view:

- to every HTML page (``Content-Type: text/html``: the admin, Swagger UI, ReDoc, the browsable
  API, ``/``, the login and CSRF pages): ``Content-Security-Policy`` from ``SECURE_CSP`` and
  ``Permissions-Policy`` from ``PERMISSIONS_POLICY``. A page's inline ``<script>`` and
  ``<style>`` carry ``nonce="{{ csp_nonce }}"`` (the ``csp_nonce`` context processor below);
  the nonce is made when a template first reads it, so a page that has no inline code, and an
  answer that renders no template, never makes one;
- to every answer to a request that carries credentials (an ``Authorization`` header or the
  session cookie) and says nothing of caching itself: ``Cache-Control: private, no-cache``. No
  shared cache keeps one person's goals; the client's own cache may keep them but asks first
  (``If-None-Match``), and a 304 costs the server no body.

The names are Django 6.0's (``SECURE_CSP``, the ``NONCE`` sentinel, ``csp_nonce`` in templates),
so on that version its own middleware and context processor replace these with no template or
setting changed. Unlike Django's (and django-csp's), nothing is built for an answer that is not
a page, and nothing is made per request until a template asks: an API answer costs two look-ups
and a string test, plus the Cache-Control header itself (docs/RELIABILITY.md, "Hardening,
pages", has the count).
"""

import secrets

from django.conf import settings
from django.utils.functional import SimpleLazyObject, empty

# Where SECURE_CSP wants the request's nonce ('nonce-...'); the value is Django 6.0's CSP.NONCE.
NONCE = "<CSP_NONCE_SENTINEL>"

CSP_HEADER = "Content-Security-Policy"
# Private: no shared cache (a proxy, a CDN) may store it; no-cache: the browser revalidates
# before each reuse, so a change made elsewhere (another device, the admin) is seen at once.
PRIVATE = "private, no-cache"


class LazyNonce(SimpleLazyObject):
    """A request's nonce, made on first use; false until then (as Django 6.0's)."""

    def __init__(self):
        super().__init__(lambda: secrets.token_urlsafe(16))

    def __bool__(self) -> bool:
        return self._wrapped is not empty


def csp_nonce(request) -> dict:
    """Context processor: ``{{ csp_nonce }}``, the nonce of the request's
    Content-Security-Policy."""
    # DRF's pages (the browsable API, Swagger UI, ReDoc) render with DRF's Request, whose
    # attributes set here would not reach the middleware: keep the nonce on Django's request.
    request = getattr(request, "_request", request)
    nonce = request.__dict__.get("csp_nonce")
    if nonce is None:
        nonce = request.csp_nonce = LazyNonce()
    return {"csp_nonce": nonce}


def build_policy(directives: dict) -> str:
    """``{"default-src": ["'self'"], ...}`` as a header value; an empty list leaves the
    directive out."""
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items() if values)


class PageHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        directives = settings.SECURE_CSP
        # Both forms built once: with the sentinel (replaced by the nonce), and without it.
        self.csp = build_policy(directives)
        self.csp_without_nonce = build_policy(
            {name: [v for v in values if v != NONCE] for name, values in directives.items()}
        )
        self.permissions_policy = ", ".join(
            f"{feature}=({' '.join(allowed)})"
            for feature, allowed in settings.PERMISSIONS_POLICY.items()
        )
        self.session_cookie = settings.SESSION_COOKIE_NAME

    def __call__(self, request):
        response = self.get_response(request)
        headers = response.headers
        if "Cache-Control" not in headers and (
            "HTTP_AUTHORIZATION" in request.META or self.session_cookie in request.COOKIES
        ):
            headers["Cache-Control"] = PRIVATE
        if headers.get("Content-Type", "").startswith("text/html"):
            self.page_headers(request, response)
        return response

    def page_headers(self, request, response) -> None:
        headers = response.headers
        # With DEBUG on, a 404 or 500 may be Django's technical page, whose inline style and
        # script carry no nonce (django/views/templates/technical_*.html); as django-csp does,
        # it goes without a policy (development only: with DEBUG off Django shows no such page).
        debug_page = settings.DEBUG and response.status_code in (404, 500)
        if CSP_HEADER not in headers and not debug_page:
            nonce = request.__dict__.get("csp_nonce")
            headers[CSP_HEADER] = (
                self.csp.replace(NONCE, f"'nonce-{nonce}'") if nonce else self.csp_without_nonce
            )
        if self.permissions_policy:
            headers.setdefault("Permissions-Policy", self.permissions_policy)

"""The service's own small pages: the root index and the favicon."""

from django.contrib.staticfiles import finders
from django.http import FileResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

# Where a newcomer goes from "/": (key, path, what it is).
LINKS = [
    ("goals", "/api/v1/goals", "The goals API (a bearer token, or a staff session)"),
    ("docs", "/docs", "Swagger UI: try every operation"),
    ("redoc", "/redoc", "ReDoc: the API reference"),
    ("schema", "/api/v1/schema", "The OpenAPI document"),
    ("admin", "/admin/", "The Django admin, for staff"),
    ("health", "/healthz", "Liveness probe"),
]


@require_safe
def index(request):
    """``/``: what lives here. HTML for a browser, JSON for everyone else."""
    if "text/html" in request.headers.get("Accept", ""):
        return render(request, "delight/index.html", {"links": LINKS})
    return JsonResponse(
        {
            "name": "Delight goals API",
            "links": {key: request.build_absolute_uri(path) for key, path, _ in LINKS},
        }
    )


@require_safe
@cache_control(max_age=86400, public=True)
def favicon(request):
    """``/favicon.ico``, which every browser asks for whatever the page says."""
    icon = open(finders.find("delight/favicon.ico"), "rb")  # noqa: SIM115 - the response closes it
    return FileResponse(icon, content_type="image/x-icon")

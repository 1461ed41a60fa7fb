"""CORS for browser clients on other origins: off unless ``CORS_ALLOWED_ORIGINS`` names one
(then corsheaders answers preflights and exposes the headers a client reads), and with none the
middleware is not there at all: no ``Vary: Origin``, no ``Access-Control-*`` on any answer."""

import functools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
APP = "https://app.delight.example"
CORS = "corsheaders.middleware.CorsMiddleware"
SESSIONS = "django.contrib.sessions.middleware.SessionMiddleware"


@functools.cache
def middleware_with(origins: str | None) -> list[str]:
    """``MIDDLEWARE`` as delight.settings builds it with ``CORS_ALLOWED_ORIGINS=origins``."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "delight.settings"}
    env.pop("CORS_ALLOWED_ORIGINS", None)
    if origins is not None:
        env["CORS_ALLOWED_ORIGINS"] = origins
    script = "import json, django; django.setup(); from django.conf import settings as s; "
    script += "print(json.dumps(s.MIDDLEWARE))"
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=60, check=True,
    )  # fmt: skip
    return json.loads(result.stdout.splitlines()[-1])


def test_the_middleware_is_there_only_when_an_origin_is_configured():
    assert CORS not in middleware_with(None)
    assert CORS not in middleware_with("")
    configured = middleware_with(f"{APP},https://admin.delight.example")
    # Where corsheaders asks for it: before CommonMiddleware, which may answer on its own.
    assert configured.index(CORS) == configured.index(SESSIONS) + 1
    assert configured.index(CORS) < configured.index("django.middleware.common.CommonMiddleware")
    assert [name for name in configured if name != CORS] == middleware_with(None)


CELLO = {"title": "Learn the cello", "goal_type": "concrete", "value_category": "craft"}


@pytest.fixture
def cors(settings):
    """The settings delight.settings makes with ``CORS_ALLOWED_ORIGINS=APP``."""
    settings.MIDDLEWARE = middleware_with(APP)
    settings.CORS_ALLOWED_ORIGINS = [APP]


@pytest.mark.django_db
def test_with_no_origin_configured_no_answer_speaks_cors(api, goal):
    assert CORS not in settings.MIDDLEWARE  # the suite runs delight.settings as shipped
    for response in (
        api.get("/api/v1/goals", HTTP_ORIGIN=APP),
        api.get(f"/api/v1/goals/{goal.id}", HTTP_ORIGIN=APP),
    ):
        assert response.status_code == 200
        assert not [name for name in response.headers if name.lower().startswith("access-control")]
        assert "origin" not in response.headers.get("Vary", "").lower()


@pytest.mark.django_db
def test_a_preflight_from_an_allowed_origin_is_answered(cors, api_client):
    response = api_client.options(
        "/api/v1/goals/00000000-0000-0000-0000-000000000000",
        HTTP_ORIGIN=APP,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="PATCH",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type, if-match",
    )
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == APP
    methods = {name.strip() for name in response["Access-Control-Allow-Methods"].split(",")}
    assert methods == {"DELETE", "GET", "OPTIONS", "PATCH", "POST"}  # what the API answers
    allowed = {name.strip() for name in response["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type", "if-match", "idempotency-key"} <= allowed


@pytest.mark.django_db
def test_an_allowed_origin_reads_the_headers_a_client_needs(cors, api):
    response = api.post("/api/v1/goals", CELLO, format="json", HTTP_ORIGIN=APP)
    assert response.status_code == 201
    assert response["Access-Control-Allow-Origin"] == APP
    exposed = {
        name.strip().lower() for name in response["Access-Control-Expose-Headers"].split(",")
    }
    assert {"location", "etag", "x-request-id", "retry-after", "link"} <= exposed
    assert "origin" in response["Vary"].lower()


@pytest.mark.django_db
def test_an_origin_not_listed_gets_no_cors_headers(cors, api):
    response = api.get("/api/v1/goals", HTTP_ORIGIN="https://evil.example")
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response.headers


@pytest.mark.django_db
def test_a_browser_client_can_read_why_its_token_was_refused(cors, api_client):
    response = api_client.get("/api/v1/goals", HTTP_ORIGIN=APP, HTTP_AUTHORIZATION="Bearer x.y.z")
    assert response.status_code == 401
    assert response["Access-Control-Allow-Origin"] == APP
    exposed = {
        name.strip().lower() for name in response["Access-Control-Expose-Headers"].split(",")
    }
    assert "www-authenticate" in exposed
    assert response["WWW-Authenticate"].startswith("Bearer ")


@pytest.mark.django_db
def test_only_the_api_speaks_cors(cors, client):
    for path in ("/admin/login/", "/docs", "/api-auth/login/"):
        response = client.get(path, HTTP_ORIGIN=APP)
        assert response.status_code == 200, path
        assert "Access-Control-Allow-Origin" not in response.headers, path

"""What people and clients meet outside the goals routes: the root, the favicon, 404s and the
request log, with DEBUG off (production) and on (make run)."""

import io
import json
import logging
import uuid

import pytest

from delight.requestlog import RequestIdFilter
from tests.tokens import make_token

NOT_FOUND = {"detail": "Not found."}


@pytest.fixture(params=[False, True], ids=["debug-off", "debug-on"])
def debug(request, settings):
    settings.DEBUG = request.param
    return request.param


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/nope",
        "/api/v1/nope",
        "/api/v1/goals/not-a-uuid",
        "/api/v1/goals/123",
        "/api/v2/goals",
        "/docs/extra",
    ],
)
def test_unknown_routes_are_json_404s(client, debug, path):
    response = client.get(path, HTTP_AUTHORIZATION=f"Bearer {make_token('user_pages')}")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == NOT_FOUND


@pytest.mark.django_db
def test_a_missing_goal_is_a_json_404_with_debug_on(client, debug):
    path = f"/api/v1/goals/{uuid.uuid4()}"
    response = client.get(path, HTTP_AUTHORIZATION=f"Bearer {make_token('user_pages')}")
    assert response.status_code == 404
    assert response.json() == NOT_FOUND


@pytest.mark.django_db
def test_the_admin_keeps_its_html_pages(admin_client, debug):
    response = admin_client.get("/admin/goals/goal/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    missing = admin_client.get("/admin/no-such-app/")
    assert missing.status_code == 404
    if debug:  # Django's page for a missing admin page; JSON with DEBUG off (handler404)
        assert missing["Content-Type"].startswith("text/html")


def test_missing_slashes_still_redirect(client, debug):
    response = client.get("/admin")
    assert response.status_code == 301
    assert response["Location"] == "/admin/"


def test_docs_keep_their_html(client, debug):
    response = client.get("/docs", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")


def test_the_root_links_to_everything_as_json(client, debug):
    response = client.get("/")
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "Delight goals API"
    assert body["links"]["docs"] == "http://testserver/docs"
    assert body["links"]["goals"] == "http://testserver/api/v1/goals"
    assert body["links"]["admin"] == "http://testserver/admin/"


def test_the_root_is_a_page_for_a_browser(client):
    response = client.get("/", HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    for path in ("/docs", "/redoc", "/admin/", "/api/v1/goals"):
        assert f'href="{path}"' in page
    assert ".venv/bin/python manage.py dev_token" in page


def test_the_favicon_is_an_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/x-icon"
    assert b"".join(response.streaming_content).startswith(b"\x00\x00\x01\x00")  # ICO header


@pytest.mark.django_db
def test_a_client_error_is_logged_once_at_info(client, caplog):
    caplog.set_level(logging.DEBUG)
    response = client.get("/api/v1/goals")  # no credentials: 401
    assert response.status_code == 401
    lines = [record for record in caplog.records if "401" in record.getMessage()]
    assert len(lines) == 1, [record.getMessage() for record in caplog.records]
    (line,) = lines
    assert line.name == "delight.request"
    assert line.levelno == logging.INFO
    assert line.getMessage().startswith("GET /api/v1/goals 401 ")
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]


@pytest.mark.django_db
def test_the_log_names_the_route_not_the_path(client, caplog):
    caplog.set_level(logging.INFO, logger="delight.request")
    goal_id = uuid.uuid4()
    client.get(f"/api/v1/goals/{goal_id}", HTTP_AUTHORIZATION=f"Bearer {make_token('user_log')}")
    (line,) = [r for r in caplog.records if r.name == "delight.request"]
    assert line.getMessage().startswith("GET /api/v1/goals/{pk} 404 ")
    assert str(goal_id) not in line.getMessage()
    assert line.http["user_id"] == "user_log"
    assert line.http["route"] == "/api/v1/goals/{pk}"


def test_a_request_id_is_echoed_or_made(client):
    given = client.get("/healthz", HTTP_X_REQUEST_ID="req-42.a")
    assert given["X-Request-ID"] == "req-42.a"
    made = client.get("/healthz")
    assert len(made["X-Request-ID"]) == 32
    odd = client.get("/healthz", HTTP_X_REQUEST_ID="no spaces <or> markup")
    assert odd["X-Request-ID"] != "no spaces <or> markup"
    assert len(odd["X-Request-ID"]) == 32


def test_every_log_line_of_a_request_carries_its_id(client):
    """Through the configured console handler, as the process writes it: JSON lines with DEBUG
    off (production; the plain format of make run is tested in tests/ops/test_logs.py)."""
    (console,) = [
        handler
        for handler in logging.getLogger().handlers
        if any(isinstance(f, RequestIdFilter) for f in handler.filters)
    ]
    stream = io.StringIO()
    previous = console.setStream(stream)
    try:
        client.get("/nope", HTTP_X_REQUEST_ID="trace-me")
        logging.getLogger("goals").warning("outside any request")
    finally:
        console.setStream(previous)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert any(
        line["request_id"] == "trace-me" and line["message"].startswith("GET unmatched 404")
        for line in lines
    ), lines
    assert any(
        line["request_id"] == "-" and line["message"] == "outside any request" for line in lines
    ), lines

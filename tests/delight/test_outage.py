"""The database goes away and comes back: requests get a quick JSON 503 with Retry-After,
/readyz says 503 while /healthz stays 200, and the service recovers without a restart.

Run against the embedded PostgreSQL, which the test stops and starts for real."""

import time

import pytest
import requests
from django.conf import settings
from django.db import connection

from delight import embedded_postgres
from goals.models import Goal
from tests.tokens import make_token

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not settings.USING_EMBEDDED_POSTGRES, reason="stops the server: embedded PostgreSQL only"
    ),
]

GOALS = "/api/v1/goals"


def test_database_outage_is_503_and_the_service_recovers(live_server, alice, goal):
    """Over real HTTP (the live server runs Django's request signals, as gunicorn does)."""
    headers = {"Authorization": f"Bearer {make_token(alice.clerk_user_id)}"}
    base = live_server.url
    assert requests.get(f"{base}{GOALS}", headers=headers, timeout=10).status_code == 200
    server = embedded_postgres.server(settings.DATA_DIR)
    server.stop()
    try:
        started = time.monotonic()
        responses = [
            requests.get(f"{base}{GOALS}", headers=headers, timeout=30),
            requests.get(f"{base}{GOALS}/{goal.id}", headers=headers, timeout=30),
            requests.post(
                f"{base}{GOALS}",
                json={"title": "Lost?", "goal_type": "concrete", "value_category": "craft"},
                headers=headers,
                timeout=30,
            ),
        ]
        elapsed = time.monotonic() - started
        ready = requests.get(f"{base}/readyz", timeout=30)
        health = requests.get(f"{base}/healthz", timeout=30)
    finally:
        with server._lock:
            server.ensure_postgres_running()
        connection.close()  # this thread's connection died with the server too
    for response in responses:
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "5"
        assert response.json() == {
            "detail": "The service is temporarily unavailable; try again shortly."
        }
    assert elapsed < 10
    assert ready.status_code == 503
    assert ready.json() == {"detail": "The database is unavailable."}
    assert health.status_code == 200

    # Back up: the very first request succeeds, without restarting anything.
    first = requests.get(f"{base}{GOALS}", headers=headers, timeout=10)
    assert first.status_code == 200
    assert [g["id"] for g in first.json()["goals"]] == [str(goal.id)]
    assert requests.get(f"{base}/readyz", timeout=10).status_code == 200
    assert not Goal.objects.filter(title="Lost?").exists()


def test_unhandled_error_in_production_is_a_generic_json_500(monkeypatch, alice):
    from goals import views
    from tests.conftest import client_for

    def broken(**kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(views, "goal_create", broken)
    api = client_for(alice)
    api.raise_request_exception = False
    response = api.post(
        GOALS, {"title": "x", "goal_type": "concrete", "value_category": "craft"}, format="json"
    )
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Internal server error."}
    assert b"secret internals" not in response.content
    assert b"Traceback" not in response.content

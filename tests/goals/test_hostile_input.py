"""Hostile input, beyond the API's own validation tests: every case is a 4xx, quickly, never a 5xx."""

import time

import pytest

pytestmark = pytest.mark.django_db

GOALS = "/api/v1/goals"


@pytest.fixture
def timed():
    started = time.monotonic()
    yield
    assert time.monotonic() - started < 5, "a hostile request took too long"


def test_a_body_over_64_kib_is_413_before_it_is_read(api, timed):
    response = api.generic("POST", GOALS, b"x" * (64 * 1024 + 1), content_type="application/json")
    assert response.status_code == 413
    assert response.json()["detail"].startswith("Request body is too large")


def test_a_lying_content_length_is_not_a_5xx(api, timed):
    response = api.generic(
        "POST", GOALS, b"{}", content_type="application/json", CONTENT_LENGTH="abc"
    )
    assert 400 <= response.status_code < 500


@pytest.mark.parametrize("charset", ["utf-7", "utf-32", "cp500", "x-made-up", "rot13", "idna"])
def test_exotic_charsets_are_415(api, charset, timed):
    response = api.generic(
        "POST", GOALS, b'{"title": "x"}', content_type=f"application/json; charset={charset}"
    )
    assert response.status_code == 415


def test_deeply_nested_arrays_are_400(api, timed):
    body = b'{"title": ' + b"[" * 20000 + b"]" * 20000 + b"}"
    assert api.generic("POST", GOALS, body, content_type="application/json").status_code == 400


def test_ten_thousand_query_parameters_are_a_4xx(api, timed):
    query = "&".join(f"p{i}=v" for i in range(10_000))
    response = api.get(f"{GOALS}?{query}")
    assert 400 <= response.status_code < 500
    assert response["Content-Type"] == "application/json"


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("path", [GOALS, f"{GOALS}/history", f"{GOALS}/insights", "/api/v1/schema"])
def test_too_many_query_parameters_are_the_same_json_400_with_debug_on(
    api, settings, debug, path, timed
):
    """With DEBUG on (make run), Django's debug page read the query string again and failed on
    it: the development server answered a plain-text 500 (found by a client author)."""
    settings.DEBUG = debug
    query = "&".join(f"x{i}=1" for i in range(1_001))
    response = api.get(f"{path}?{query}")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Bad request."}


def test_a_16_kib_authorization_header_is_401(api_client, timed):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer " + "a" * 16 * 1024)
    response = api_client.get(GOALS)
    assert response.status_code == 401
    assert response.json()["detail"] == "Token is too large."


@pytest.mark.parametrize("value", ["\x00", "%00", "%ED%A0%80", "\uffff", "é" * 5000])
def test_odd_query_values_are_4xx_or_ignored(api, value, timed):
    for name in ("status", "ordering", "page", "page_size", "goal_type", "unknown"):
        response = api.get(GOALS, {name: value})
        assert response.status_code in (200, 422), (name, response.status_code)


@pytest.mark.parametrize(
    "path",
    [
        f"{GOALS}/%00",
        f"{GOALS}/{'a' * 5000}",
        f"{GOALS}/../../etc/passwd",
        f"{GOALS}/%2e%2e%2f",
        f"{GOALS}//",
    ],
)
def test_odd_paths_are_404(api, path, timed):
    assert api.get(path).status_code == 404


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("method", "body", "field"),
    [
        ("POST", rb'{"\ud800": 1}', "\\ud800"),
        ("POST", rb'{"title": "t", "goal_type": "\ud800", "value_category": "craft"}', "goal_type"),
        ("PATCH", rb'{"status": "\udfff"}', "status"),
        ("PATCH", rb'{"\udfff\ud800x": "y"}', "\\udfff\\ud800x"),
    ],
)
def test_lone_surrogates_echoed_in_errors_are_a_422_not_a_500(live_server, method, body, field):
    """Issue #12 item 5: a lone surrogate is valid JSON input but no encoder can write it back;
    the error names it by its escape."""
    import requests

    from goals.models import Goal
    from tests.factories import UserFactory
    from tests.tokens import make_token

    owner = UserFactory(clerk_user_id="user_surrogates")
    goal = Goal.objects.create(user=owner, title="t", goal_type="concrete", value_category="craft")
    path = GOALS if method == "POST" else f"{GOALS}/{goal.pk}"
    response = requests.request(
        method,
        f"{live_server.url}{path}",
        data=body,
        headers={
            "Authorization": f"Bearer {make_token('user_surrogates')}",
            "Content-Type": "application/json",
        },
        timeout=10,
    )
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert field in errors, errors

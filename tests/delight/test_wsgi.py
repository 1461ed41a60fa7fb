"""The two middleware chains of delight.wsgi answer alike: an API request with a bearer token and
no cookie skips the middleware only pages use, and nothing a client can see changes."""

import io
import json
import sys

import pytest

from delight import wsgi
from goals.models import Goal
from tests.factories import GoalFactory
from tests.tokens import make_token

pytestmark = pytest.mark.django_db(transaction=True)

GOALS = "/api/v1/goals"
BODY = b'{"title": "Learn to sail", "goal_type": "concrete", "value_category": "craft"}'


def call(app, method: str, path: str, *, body: bytes = b"", query: str = "", **meta):
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        **meta,
    }
    answer = {}

    def start_response(status, headers, exc_info=None):
        answer["status"] = int(status.split()[0])
        answer["headers"] = {name: value for name, value in headers if name != "X-Request-ID"}

    answer["body"] = b"".join(app(environ, start_response))
    return answer


def both(method: str, path: str, **kwargs) -> tuple[dict, dict]:
    """The same request through the API chain and through every middleware."""
    return call(wsgi.api, method, path, **kwargs), call(wsgi.pages, method, path, **kwargs)


@pytest.fixture
def token(alice):
    return f"Bearer {make_token(alice.clerk_user_id)}"


def test_bearer_api_requests_take_the_api_chain():
    bearer = {"PATH_INFO": "/api/v1/goals", "HTTP_AUTHORIZATION": "Bearer abc"}
    assert wsgi.is_bearer_api_request(bearer)
    assert wsgi.is_bearer_api_request({**bearer, "HTTP_AUTHORIZATION": "bearer abc"})
    assert not wsgi.is_bearer_api_request({**bearer, "HTTP_COOKIE": "sessionid=x"})
    assert not wsgi.is_bearer_api_request({**bearer, "HTTP_AUTHORIZATION": "Basic abc"})
    assert not wsgi.is_bearer_api_request({**bearer, "PATH_INFO": "/admin/"})
    assert not wsgi.is_bearer_api_request({**bearer, "HTTP_ACCEPT": "text/html,*/*"})  # a page
    assert wsgi.is_bearer_api_request({**bearer, "HTTP_ACCEPT": "application/json"})
    assert not wsgi.is_bearer_api_request({"PATH_INFO": "/api/v1/goals"})


def test_the_api_chain_is_the_whole_chain_less_what_pages_use(settings):
    chain = wsgi.api_middleware()
    assert chain == [name for name in settings.MIDDLEWARE if name not in wsgi.PAGES_ONLY]
    assert set(settings.MIDDLEWARE) >= wsgi.PAGES_ONLY  # a renamed middleware fails here
    for kept in (
        "delight.requestlog.RequestLogMiddleware",
        "delight.middleware.ForwardedHeadersMiddleware",
        "django.middleware.security.SecurityMiddleware",
        "delight.middleware.BodySizeLimitMiddleware",
        "django.middleware.common.CommonMiddleware",
    ):
        assert kept in chain


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("GET", GOALS, {}),
        ("GET", GOALS, {"query": "status=bogus&page=0"}),
        ("GET", GOALS, {"query": "ordering=title&page_size=1"}),
        ("GET", f"{GOALS}/00000000-0000-0000-0000-000000000000", {}),
        ("GET", f"{GOALS}/not-a-uuid", {}),
        ("GET", "/api/v1/nowhere", {}),
        ("PUT", GOALS, {"body": BODY}),
        ("POST", GOALS, {"body": b"{not json"}),
        ("POST", GOALS, {"body": b'{"title": ""}'}),
        ("POST", GOALS, {"body": b"x" * (64 * 1024 + 1)}),
        ("OPTIONS", GOALS, {}),
        ("GET", GOALS, {"HTTP_ACCEPT": "application/xml"}),
        ("GET", GOALS, {"HTTP_HOST": "evil.example"}),
    ],
)
def test_reads_and_refusals_answer_alike(token, alice, method, path, kwargs):
    GoalFactory.create_batch(3, user=alice)
    api, pages = both(method, path, HTTP_AUTHORIZATION=token, **kwargs)
    assert api["status"] == pages["status"]
    assert api["headers"] == pages["headers"]
    assert api["body"] == pages["body"]


def test_a_bad_token_answers_alike(alice):
    api, pages = both("GET", GOALS, HTTP_AUTHORIZATION="Bearer not-a-token")
    assert api["status"] == pages["status"] == 401
    assert api["headers"] == pages["headers"]
    assert api["body"] == pages["body"]


def test_a_goal_and_its_conditional_get_answer_alike(token, alice):
    goal = GoalFactory(user=alice)
    api, pages = both("GET", f"{GOALS}/{goal.pk}", HTTP_AUTHORIZATION=token)
    assert api == pages
    etag = api["headers"]["ETag"]
    api, pages = both(
        "GET", f"{GOALS}/{goal.pk}", HTTP_AUTHORIZATION=token, HTTP_IF_NONE_MATCH=etag
    )
    assert api == pages
    assert api["status"] == 304


def test_writes_answer_alike(token, alice):
    created = [
        call(app, "POST", GOALS, body=BODY, HTTP_AUTHORIZATION=token)
        for app in (wsgi.api, wsgi.pages)
    ]
    assert [answer["status"] for answer in created] == [201, 201]
    bodies = [json.loads(answer["body"]) for answer in created]
    for answer, body in zip(created, bodies, strict=True):
        assert answer["headers"]["Location"] == f"{GOALS}/{body['id']}"
    assert [set(answer["headers"]) for answer in created] == [set(created[1]["headers"])] * 2
    assert [{**body, "id": None, "created_at": None, "updated_at": None} for body in bodies] == [
        {**bodies[1], "id": None, "created_at": None, "updated_at": None}
    ] * 2
    for app, body in zip((wsgi.api, wsgi.pages), bodies, strict=True):
        patched = call(
            app,
            "PATCH",
            f"{GOALS}/{body['id']}",
            body=b'{"status": "paused"}',
            HTTP_AUTHORIZATION=token,
        )
        archived = call(app, "DELETE", f"{GOALS}/{body['id']}", HTTP_AUTHORIZATION=token)
        assert (patched["status"], archived["status"]) == (200, 200)
        assert json.loads(archived["body"])["status"] == "archived"
    assert Goal.objects.owned_by(alice).filter(status="archived").count() == 2

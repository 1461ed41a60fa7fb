"""The headers of the pages people open in a browser and of answers that hold one person's data
(delight/headers.py; the contract's "Pages people open in a browser"). That the policy breaks no
page is proven in Chromium (tests/browser); here, what each kind of answer carries."""

import re
from html.parser import HTMLParser

import pytest
from django.test import Client

from delight.headers import NONCE, LazyNonce, build_policy
from tests.factories import GoalFactory, UserFactory
from tests.tokens import make_token

pytestmark = pytest.mark.django_db

HTML = {"HTTP_ACCEPT": "text/html,application/xhtml+xml,*/*;q=0.8"}
CSP = "Content-Security-Policy"
PRIVATE = "private, no-cache"


@pytest.fixture(params=[False, True], ids=["debug-off", "debug-on"])
def debug(request, settings):
    settings.DEBUG = request.param
    return request.param


def directives(response) -> dict[str, list[str]]:
    policy = response[CSP]
    parsed = {}
    for directive in policy.split(";"):
        name, *values = directive.split()
        parsed[name] = values
    return parsed


class InlineCode(HTMLParser):
    """Every inline script a browser would run and every <style> element, with its nonce."""

    def __init__(self):
        super().__init__()
        self.elements: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        data_block = attrs.get("type", "text/javascript") not in ("text/javascript", "module")
        if (tag == "script" and "src" not in attrs and not data_block) or tag == "style":
            self.elements.append((tag, attrs.get("nonce")))
        handlers = [name for name in attrs if name.startswith("on")]
        assert not handlers, f"inline event handlers {handlers} on <{tag}>"


def inline_code(response) -> list[tuple[str, str | None]]:
    parser = InlineCode()
    parser.feed(response.content.decode())
    return parser.elements


def assert_page_policy(response):
    """The contract: scripts only from this origin or with the nonce, no eval, no framing."""
    assert response["Content-Type"].startswith("text/html")
    policy = directives(response)
    scripts = policy["script-src"]
    assert scripts[0] == "'self'"
    assert all(re.fullmatch(r"'nonce-[A-Za-z0-9_-]{22}'", value) for value in scripts[1:]), scripts
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in policy["style-src"]
    nonce = scripts[1][len("'nonce-") : -1] if len(scripts) > 1 else None
    for tag, element_nonce in inline_code(response):
        assert element_nonce is not None, f"an inline <{tag}> without a nonce"
        assert element_nonce == nonce, f"an inline <{tag}> with another nonce"
    if nonce:
        assert policy["style-src"] == ["'self'", f"'nonce-{nonce}'"]
    assert "camera=()" in response["Permissions-Policy"]
    return nonce


@pytest.fixture
def staff_client(client, admin_user):
    client.force_login(admin_user)
    return client


def anonymous(path, **extra):
    return lambda client, staff: Client().get(path, **extra)


def as_staff(path, **extra):
    return lambda client, staff: staff.get(path, **extra)


PAGES = {
    "root": anonymous("/", **HTML),
    "swagger-ui": anonymous("/docs", **HTML),
    "redoc": anonymous("/redoc", **HTML),
    "admin-login": anonymous("/admin/login/"),
    "admin-changelist": as_staff("/admin/goals/goal/"),
    "admin-user": lambda client, staff: staff.get(
        f"/admin/accounts/user/{UserFactory(image_url='https://img.clerk.com/a.png').pk}/change/"
    ),
    "browsable-api-login": anonymous("/api-auth/login/"),
    "browsable-api-list": as_staff("/api/v1/goals", **HTML),
    "browsable-api-401": anonymous("/api/v1/goals", **HTML),
}


@pytest.mark.parametrize("page", PAGES.values(), ids=PAGES.keys())
def test_every_page_carries_the_policy(client, staff_client, debug, page):
    response = page(client, staff_client)
    assert response.status_code in (200, 401)
    assert_page_policy(response)


def test_pages_with_inline_code_get_a_fresh_nonce_each_time(client):
    nonces = [assert_page_policy(client.get("/docs")) for _ in range(2)]
    assert None not in nonces
    assert nonces[0] != nonces[1]
    redoc = client.get("/redoc")
    assert assert_page_policy(redoc) not in nonces
    assert [tag for tag, _ in inline_code(redoc)] == ["style", "script", "script"]


def test_a_page_without_inline_code_makes_no_nonce(client):
    """No template read ``csp_nonce``: the policy names none (a nonce nobody uses is one more
    thing to guess for nothing)."""
    response = client.get("/admin/login/")
    assert directives(response)["script-src"] == ["'self'"]
    assert directives(response)["style-src"] == ["'self'"]


def test_the_login_lock_page_carries_the_policy(client, settings, admin_user):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = client.post(
            "/admin/login/", {"username": admin_user.username, "password": "wrong"}, **HTML
        )
    assert response.status_code == 429
    assert "Too many failed logins" in response.content.decode()
    assert_page_policy(response)


def test_the_csrf_failure_page_carries_the_policy_and_needs_no_inline_style(debug):
    """Django's own CSRF page styles itself with an inline <style>, which the policy refuses;
    ours (delight/templates/403_csrf.html) takes the stylesheet."""
    response = Client(enforce_csrf_checks=True).post(
        "/admin/login/", {"username": "someone", "password": "anything"}
    )
    assert response.status_code == 403
    page = response.content.decode()
    assert "CSRF verification failed" in page
    assert "/static/delight/page.css" in page
    assert_page_policy(response)
    assert inline_code(response) == []


def test_django_s_debug_pages_go_without_a_policy(staff_client, settings):
    """With DEBUG on a missing admin page is Django's technical 404, styled inline: no policy,
    so it stays readable under make run. Every other page keeps it (the test above)."""
    settings.DEBUG = True
    response = staff_client.get("/admin/no-such-app/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert CSP not in response


def test_swagger_ui_keeps_django_s_cross_origin_opener_policy(client):
    """drf-spectacular sent ``unsafe-none`` here (for an OAuth2 popup this service has not)."""
    response = client.get("/docs")
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


def test_swagger_ui_keeps_no_token_in_the_browser_s_storage(client):
    assert b'"persistAuthorization": false' in client.get("/docs").content


def test_json_answers_carry_no_page_headers(client, alice, goal):
    """A policy only means something to a page; the API's answers are spared the bytes."""
    token = make_token(alice.clerk_user_id)
    for response in (
        client.get(f"/api/v1/goals/{goal.pk}", HTTP_AUTHORIZATION=f"Bearer {token}"),
        client.get("/api/v1/goals"),
        client.get("/"),
        client.get("/api/v1/schema"),
    ):
        assert not response["Content-Type"].startswith("text/html")
        assert CSP not in response
        assert "Permissions-Policy" not in response


# --- Caching of one person's answers ---------------------------------------------------------


def test_answers_to_a_token_are_private_and_revalidated(api, goal):
    for response in (
        api.get(f"/api/v1/goals/{goal.pk}"),
        api.get("/api/v1/goals"),
        api.get("/api/v1/goals/insights"),
        api.patch(f"/api/v1/goals/{goal.pk}", {"status": "paused"}, format="json"),
        api.post(
            "/api/v1/goals",
            {"title": "Swim", "goal_type": "concrete", "value_category": "health"},
            format="json",
        ),
        api.get("/api/v1/goals/not-a-goal"),
    ):
        assert response["Cache-Control"] == PRIVATE, response.status_code


def test_etags_still_answer_304_and_the_304_is_private_too(api, goal):
    first = api.get(f"/api/v1/goals/{goal.pk}")
    assert first.status_code == 200
    again = api.get(f"/api/v1/goals/{goal.pk}", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304
    assert again["ETag"] == first["ETag"]
    assert again["Cache-Control"] == PRIVATE
    api.patch(f"/api/v1/goals/{goal.pk}", {"title": "Run a marathon"}, format="json")
    changed = api.get(f"/api/v1/goals/{goal.pk}", HTTP_IF_NONE_MATCH=first["ETag"])
    assert changed.status_code == 200
    assert changed.json()["title"] == "Run a marathon"


def test_answers_to_a_session_are_private_json_and_pages_alike(staff_client, admin_user):
    GoalFactory(user=admin_user)
    assert staff_client.get("/api/v1/goals")["Cache-Control"] == PRIVATE
    page = staff_client.get("/api/v1/goals", **HTML)
    assert page["Content-Type"].startswith("text/html")
    assert page["Cache-Control"] == PRIVATE


def test_a_view_s_own_cache_control_is_kept(staff_client):
    """The admin's pages are never_cache: stricter than private, and left as they are."""
    response = staff_client.get("/admin/goals/goal/")
    assert response["Cache-Control"] == "max-age=0, no-cache, no-store, must-revalidate, private"


@pytest.mark.parametrize(
    ("path", "cache_control"),
    [
        ("/api/v1/schema", None),
        ("/", None),
        ("/docs", None),
        ("/api/v1/goals", None),  # a 401
        ("/healthz", "max-age=0, no-cache, no-store, must-revalidate, private"),  # its own
        ("/favicon.ico", "max-age=86400, public"),
    ],
)
def test_answers_without_credentials_are_left_as_they_were(client, path, cache_control):
    assert client.get(path).get("Cache-Control") == cache_control


# --- HTTPS ------------------------------------------------------------------------------------


def test_https_answers_ask_for_https_for_a_year(client):
    """Django sends HSTS on HTTPS requests only (behind the proxy: X-Forwarded-Proto)."""
    response = client.get("/", secure=True)
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert "Strict-Transport-Security" not in client.get("/")


# --- The pieces -------------------------------------------------------------------------------


def test_the_policy_is_built_once_with_a_place_for_the_nonce():
    assert (
        build_policy({"default-src": ["'self'"], "script-src": ["'self'", NONCE], "x": []})
        == f"default-src 'self'; script-src 'self' {NONCE}"
    )


def test_a_nonce_is_made_only_when_read():
    nonce = LazyNonce()
    assert not nonce
    value = str(nonce)
    assert nonce
    assert len(value) == 22
    assert str(nonce) == value

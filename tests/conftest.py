import json
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from accounts import clerk
from accounts.services import clear_user_cache
from tests.factories import GoalFactory, UserFactory
from tests.tokens import make_token

ROOT = Path(__file__).resolve().parents[1]


def _git_status() -> set[str] | None:
    """``git status --porcelain`` of the checkout, or None outside a git work tree."""
    try:
        result = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=all"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return set(result.stdout.splitlines()) if result.returncode == 0 else None


def pytest_sessionstart(session):
    session.config.stash[_GIT_STATUS] = _git_status()


def pytest_sessionfinish(session, exitstatus):
    """A test run leaves the tree as it found it: caches, coverage data and screenshots go to
    ignored or temporary places, and nothing tracked is rewritten."""
    before = session.config.stash.get(_GIT_STATUS, None)
    after = _git_status()
    if before is None or after is None or after <= before:
        return
    changed = "\n  ".join(sorted(after - before))
    session.config.get_terminal_writer().line(
        f"\nThe test run changed the checkout (git status --porcelain):\n  {changed}", red=True
    )
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


_GIT_STATUS = pytest.StashKey[set[str] | None]()


@pytest.fixture(autouse=True)
def _fresh_process_caches():
    """Per-process caches (known users, key sources) must not carry over between tests."""
    clear_user_cache()
    clerk.key_source.cache_clear()
    clerk.forget_verified_tokens()
    yield
    clear_user_cache()
    clerk.key_source.cache_clear()
    clerk.forget_verified_tokens()


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def alice(db):
    return UserFactory(clerk_user_id="user_alice")


@pytest.fixture
def bob(db):
    return UserFactory(clerk_user_id="user_bob")


def client_for(user) -> APIClient:
    """An API client sending a real signed token for ``user``."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_token(user.clerk_user_id)}")
    return client


@pytest.fixture
def api(alice) -> APIClient:
    """Alice's client."""
    return client_for(alice)


@pytest.fixture
def bob_api(bob) -> APIClient:
    return client_for(bob)


@pytest.fixture
def goal(alice):
    """One of Alice's goals."""
    return GoalFactory(user=alice, title="Run a half marathon", value_category="health")


class JWKSServer:
    """A real HTTP server on 127.0.0.1 serving a JWKS document the test controls.

    ``mode``: "ok" serves ``document``; "down" answers 500; "hang" sleeps past any client
    timeout before answering. ``requests`` counts what it received.
    """

    def __init__(self):
        self.document = {"keys": []}
        self.mode = "ok"
        self.requests = 0
        self.hang_seconds = 10.0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests += 1
                if server.mode == "hang":
                    time.sleep(server.hang_seconds)
                if server.mode == "down":
                    self.send_response(500)
                    self.end_headers()
                    return
                body = json.dumps(server.document).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/.well-known/jwks.json"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def jwks_server():
    server = JWKSServer()
    yield server
    server.close()


@pytest.fixture(autouse=True)
def _fast_test_clients(settings):
    """Speed, not behaviour: staff fixtures hash passwords (PBKDF2's work factor is for
    production), and every test client builds the middleware anew (whitenoise would scan every
    static file each time; static files are tested through gunicorn in test_entrypoint)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.WHITENOISE_USE_FINDERS = False


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Rate-limit counters live in the cache; each test starts with none."""
    from django.core.cache import cache

    cache.clear()

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
    timeout before answering; "drip" sends the headers, then the body one byte every
    ``drip_interval`` seconds; "drip_headers" sends the status line and headers that way;
    "huge" streams ``huge_bytes`` of JSON whitespace without a Content-Length, "huge_declared"
    the same after declaring it; "gzip" compresses the document though nobody asked. ``requests`` counts what it received, ``active`` the answers in
    progress, ``bytes_sent`` what the client accepted of a "huge" body.
    """

    def __init__(self):
        self.document = {"keys": []}
        self.mode = "ok"
        self.requests = 0
        self.active = 0
        self.bytes_sent = 0
        self.hang_seconds = 10.0
        self.drip_interval = 0.5
        self.huge_bytes = 256 * 1024 * 1024
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests += 1
                server.active += 1
                try:
                    self._answer()
                except OSError:
                    pass  # the client gave up (a broken pipe, a TLS EOF): what limits are for
                finally:
                    server.active -= 1

            def _answer(self):
                if server.mode in ("drip", "drip_headers", "huge", "huge_declared", "gzip"):
                    return server._misbehave(self)
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

    def _misbehave(self, handler) -> None:
        body = json.dumps(self.document).encode()
        wfile = handler.wfile
        if self.mode == "drip_headers":
            head = b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nX-Pad: " + b"a" * 200
            for byte in head:
                wfile.write(bytes([byte]))
                wfile.flush()
                time.sleep(self.drip_interval)
            return
        if self.mode == "gzip":
            import gzip

            packed = gzip.compress(body)
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Encoding", "gzip")
            handler.send_header("Content-Length", str(len(packed)))
            handler.end_headers()
            wfile.write(packed)
            return
        if self.mode == "drip":
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            wfile.flush()
            for byte in body:
                wfile.write(bytes([byte]))
                wfile.flush()
                time.sleep(self.drip_interval)
            return
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        if self.mode == "huge_declared":
            handler.send_header("Content-Length", str(self.huge_bytes))
        handler.end_headers()
        chunk = b" " * (1024 * 1024)
        sent = 0
        while sent < self.huge_bytes:
            wfile.write(chunk)
            sent += len(chunk)
            self.bytes_sent = sent

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
    """Each test starts with no rate-limit count (nor anything else cached)."""
    from django.core.cache import cache

    from delight import throttling

    cache.clear()
    throttling.local_counter.clear()


@pytest.fixture(scope="session", autouse=True)
def _private_revocations_dir(tmp_path_factory):
    """Erasures announced to other processes (accounts.revocations) go to a directory of this run
    only: nothing left by an earlier run, or by a development server, is seen."""
    from django.conf import settings

    from accounts import revocations

    settings.CLERK_REVOCATIONS_DIR = str(tmp_path_factory.mktemp("revocations"))
    revocations.store.cache_clear()


@pytest.fixture(autouse=True)
def _no_announced_erasures():
    """An erasure announced by one test is not seen by the next."""
    from accounts.services import forget_revocations

    yield
    forget_revocations()

"""Browser tests: Debian's Chromium (``/usr/bin/chromium``, installed by ``make chromium``) driven
by Playwright for Python, against the service as deployed: python -m delight.serve with DEBUG
off, on the test database, static files from whitenoise; then every test again with DEBUG on
(``make run``'s settings), whose pages must be as clean (``[debug-on]``).

Every page a test opens is watched: each request it makes is recorded and must stay on the test
server (nothing fetched from another host), and nothing may be logged as a console error or
thrown as a page error. Screenshots go to test-artifacts/browser/ (git-ignored);
``make screenshots`` copies the current ones to docs/img/.
"""

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import global_settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connections

from tests.ops.servers import Server as Served

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
# As this machine's own probe starts Chromium: without the background-networking flags it tries
# Google's hosts at every start (updates, sync, field trials), which a closed network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",  # root in a container: Chromium's sandbox needs user namespaces
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1400, "height": 900}
PASSWORD = "a long staff passphrase"


def require_chromium(path: Path) -> str:
    """The browser to drive, or a failure that says how to get it (never a silent skip)."""
    if not os.access(path, os.X_OK):
        pytest.fail(
            f"Chromium is not installed at {path}, so the browser tests cannot run. "
            "`make chromium` installs it (apt-get install -y chromium, as root); "
            "if that failed, its output says why.",
            pytrace=False,
        )
    return str(path)


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    return require_chromium(CHROMIUM)


# The hosts of servers running with DEBUG on: their screenshots are named apart.
DEBUG_HOSTS: set[str] = set()


class Server:
    def __init__(self, url: str, log: Path, *, debug: bool = False):
        self.url = url
        self.log = log
        self.host = urlsplit(url).netloc
        self.debug = debug
        if debug:
            DEBUG_HOSTS.add(self.host)

    def is_own(self, address: str) -> bool:
        """Whether a request the page made stays on this server (inline data: and blob: too)."""
        parts = urlsplit(address)
        if parts.scheme == "data":
            return True
        if parts.scheme == "blob":
            return urlsplit(parts.path).netloc == self.host
        return parts.scheme == "http" and parts.netloc == self.host


@pytest.fixture(scope="session", params=[False, True], ids=["debug-off", "debug-on"])
def server(request, django_db_setup, django_db_blocker):
    """The production server (python -m delight.serve, tests/ops/servers.py) on the test
    database, with production settings (DEBUG off), then with DEBUG on; it serves
    tests/browser/wsgi.py: the service's application, its row caches forgotten between requests,
    as the database is flushed under it between tests."""
    debug = request.param
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = ARTIFACTS / ("server-debug.log" if debug else "server.log")
    with django_db_blocker.unblock():
        try:
            served = Served(
                workers=2,
                env={
                    "DJANGO_DEBUG": "1" if debug else "0",
                    "WEB_APPLICATION": "tests.browser.wsgi:application",
                },
                log=log,
                ready="/readyz",
            )
        except RuntimeError as exc:
            pytest.fail(str(exc), pytrace=False)
    yield Server(served.url, log, debug=debug)
    served.stop()


class Watch:
    """What the pages of one browser context did: every request, console errors, page errors,
    and answers of 400 and above that the test did not expect."""

    def __init__(self, server: Server):
        self.server = server
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.failed: list[str] = []
        self.expected_statuses: set[int] = set()

    def attach(self, context) -> None:
        context.on("request", lambda request: self.requests.append(request.url))
        context.on("requestfailed", lambda request: self.failed.append(request.url))
        context.on("response", self._response)
        context.on("page", self.attach_page)
        for page in context.pages:
            self.attach_page(page)

    def attach_page(self, page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))

    def _console(self, message) -> None:
        if message.type != "error":
            return
        # Chromium logs every answer of 400 and above as an error: one the test expects is not.
        status = re.match(
            r"Failed to load resource: the server responded with a status of (\d+)", message.text
        )
        if status and int(status[1]) in self.expected_statuses:
            return
        self.errors.append(f"console: {message.text}")

    def _response(self, response) -> None:
        if response.status >= 400 and response.status not in self.expected_statuses:
            self.errors.append(f"{response.status} {response.request.method} {response.url}")

    def check(self) -> None:
        outside = [url for url in self.requests if not self.server.is_own(url)]
        assert not outside, f"pages fetched from outside {self.server.host}: {outside}"
        assert not self.failed, f"requests that failed: {self.failed}"
        assert not self.errors, "\n".join(self.errors)
        assert self.requests, "no request was recorded"


@pytest.fixture
def browser_page(chromium_executable, server, tmp_path_factory, request, monkeypatch):
    """A page in a fresh Chromium profile; the test fails if any of its pages fetched from
    outside the server or logged an error. Yields (page, watch)."""
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread, and Django then refuses ORM calls
    # from the test ("async context"); the test's own queries are plain synchronous code.
    # https://docs.djangoproject.com/en/5.2/topics/async/#envvar-DJANGO_ALLOW_ASYNC_UNSAFE
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=chromium_executable,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport=VIEWPORT,
            base_url=server.url,
        )
        context.set_default_timeout(15_000)
        watch = Watch(server)
        watch.attach(context)
        page = context.pages[0] if context.pages else context.new_page()
        try:
            yield page, watch
        finally:
            page.screenshot(path=ARTIFACTS / f"{request.node.name}-last.png", full_page=True)
            context.close()
            # While Playwright's loop runs, Django keys its connections by that loop's task:
            # the test's queries had a connection of their own, closed here (or PostgreSQL
            # would refuse to drop the test database at the end of the run).
            connections.close_all()
    watch.check()


def screenshot(page, name: str) -> Path:
    """``name``.png, the one ``make screenshots`` copies (``name``-debug.png with DEBUG on)."""
    if urlsplit(page.url).netloc in DEBUG_HOSTS:
        name = f"{name}-debug"
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=path)
    return path


@pytest.fixture
def staff(settings):
    """A staff member with the goal permissions (not a superuser), with a real password hash:
    the server hashes as production does."""
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    user = get_user_model().objects.create_user("staffer", password=PASSWORD, is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__endswith="_goal"))
    return user


def log_in(page, path: str) -> None:
    page.goto(path)
    page.fill("#id_username", "staffer")
    page.fill("#id_password", PASSWORD)
    page.locator("input[type=submit]").click()
    page.wait_for_load_state()

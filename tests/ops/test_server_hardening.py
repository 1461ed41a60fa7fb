"""Hardening of the server side (issue 12, items 1, 4, 9 and 10), against the production server
(``python -m delight.serve``: granian, with delight/serve.py's bounds) and, where the behaviour is
Django's own server's, the live server.

docs/RELIABILITY.md, "Hardening, server", lists what each test guards.
"""

import collections
import contextlib
import http.client
import json
import signal
import socket
import time

import pytest
import requests
from rest_framework.test import APIClient

from delight import serve, throttling
from goals.models import Goal
from tests.factories import GoalFactory, UserFactory
from tests.ops.servers import Server
from tests.tokens import make_token

GOALS = "/api/v1/goals"
CLIENT_TIMEOUT = 2  # WEB_CLIENT_TIMEOUT of the module's server, seconds


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        served = Server(
            workers=2, env={"WEB_THREADS": "3", "WEB_CLIENT_TIMEOUT": str(CLIENT_TIMEOUT)}
        )
    yield served
    served.close()


def send_chunked(base_url: str, method: str, path: str, body: bytes, token: str):
    """A real chunked request over a socket: ``Transfer-Encoding: chunked``, the body in two
    chunks, no Content-Length, written at once (a server that refuses it may close early).
    Returns (status, parsed JSON body)."""
    host, port = base_url.removeprefix("http://").split(":")
    half = len(body) // 2
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:half], body[half:]))
    request = (
        (
            f"{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n"
        ).encode()
        + chunks
        + b"0\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        with contextlib.suppress(BrokenPipeError):  # answered and closed before the end
            sock.sendall(request)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, json.loads(response.read() or b"null")


# --- item 1: chunked bodies -----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_chunked_patch_is_read_by_the_server(server):
    """Before: 200 and nothing changed (Django took the missing length for an empty body)."""
    goal = GoalFactory(user=UserFactory(clerk_user_id="user_chunked"), title="Before")
    body = json.dumps({"title": "After, sent in chunks", "status": "paused"}).encode()
    status, answer = send_chunked(
        server.url, "PATCH", f"{GOALS}/{goal.id}", body, make_token("user_chunked")
    )
    assert status == 200, answer
    assert answer["title"] == "After, sent in chunks"
    goal.refresh_from_db()
    assert (goal.title, goal.status) == ("After, sent in chunks", "paused")


@pytest.mark.django_db(transaction=True)
def test_a_chunked_post_is_read_by_the_server(server):
    """Before: 422 "This field is required." for the fields it sent."""
    body = json.dumps({"title": "Chunked", "goal_type": "concrete", "value_category": "craft"})
    status, answer = send_chunked(
        server.url, "POST", GOALS, body.encode(), make_token("user_chunked_post")
    )
    assert status == 201, answer
    assert Goal.objects.get(id=answer["id"]).title == "Chunked"


@pytest.mark.django_db(transaction=True)
def test_a_body_over_the_limit_is_413_chunked_or_not(server):
    body = json.dumps({"title": "x", "description": "y" * 70_000}).encode()
    status, answer = send_chunked(server.url, "POST", GOALS, body, make_token("user_big"))
    assert status == 413
    assert set(answer) == {"detail"}
    with_length = requests.post(
        f"{server.url}{GOALS}",
        data=body,
        headers={
            "Authorization": f"Bearer {make_token('user_big')}",
            "Content-Type": "application/json",
        },
        timeout=10,
    )
    assert with_length.status_code == 413
    assert with_length.json() == answer
    assert not Goal.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_live_server_refuses_a_chunked_body_with_411(live_server, caplog):
    """Django's own server does not decode chunks: the body cannot be read, so it is refused,
    never taken as empty."""
    goal = GoalFactory(user=UserFactory(clerk_user_id="user_chunked_dev"), title="Kept")
    token = make_token("user_chunked_dev")
    patch = send_chunked(
        live_server.url, "PATCH", f"{GOALS}/{goal.id}", b'{"title": "Lost?"}', token
    )
    post = send_chunked(
        live_server.url,
        "POST",
        GOALS,
        b'{"title": "x", "goal_type": "concrete", "value_category": "craft"}',
        token,
    )
    assert patch[0] == post[0] == 411
    assert set(patch[1]) == {"detail"}
    goal.refresh_from_db()
    assert goal.title == "Kept"
    assert Goal.objects.count() == 1
    # Logged once, under the route it was sent to (answered before the URL was resolved).
    routes = [r.http["route"] for r in caplog.records if r.name == "delight.request"]
    assert routes == ["/api/v1/goals/{pk}", "/api/v1/goals"]


# --- item 4: tokens near the 8 KiB cap ------------------------------------------------------


def token_of_length(sub: str, length: int) -> str:
    """A valid token of ``length`` characters, or one or two fewer (base64 grows in steps)."""
    guess = (length - len(make_token(sub, pad=""))) * 3 // 4
    tokens = [make_token(sub, pad="p" * pad) for pad in range(guess - 4, guess + 4)]
    token = max((token for token in tokens if len(token) <= length), key=len)
    assert length - 2 <= len(token) <= length
    return token


@pytest.mark.django_db(transaction=True)
def test_a_valid_token_near_the_cap_reaches_the_app(server):
    """Before: gunicorn's HTML 431 for 8,167 to 8,192 bytes (its 8,190-byte field limit). hyper
    reads heads up to 128 KiB (delight.serve.HEAD_BUFFER_BYTES)."""
    for length in (8167, 8180, 8192):
        token = token_of_length("user_long", length)
        response = requests.get(
            f"{server.url}{GOALS}", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        assert response.status_code == 200, (length, response.text[:200])


@pytest.mark.django_db(transaction=True)
def test_a_token_over_the_cap_is_the_apps_json_401(server):
    for length in (8193, 16_000, 30_000, 100_000):
        response = requests.get(
            f"{server.url}{GOALS}",
            headers={"Authorization": f"Bearer {'a' * length}"},
            timeout=10,
        )
        assert response.status_code == 401, (length, response.text[:200])
        assert response.headers["Content-Type"] == "application/json"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_past_the_servers_own_buffer_the_answer_is_short_and_empty(server):
    """Past what hyper reads (a head of 128 KiB, or up to twice that when it arrives at once; a
    64 KiB request target) the server answers itself, before any application code: the status,
    ``Connection: close`` and no body (never an HTML page). The proxy in front answers these
    sizes in JSON (deploy/nginx)."""
    cases = [
        (f"GET {GOALS} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: {'a' * 600_000}\r\n\r\n", 431),
        (f"GET {GOALS}?q={'a' * 70_000} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 414),
    ]
    for request, status in cases:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            with contextlib.suppress(ConnectionResetError, BrokenPipeError):
                sock.sendall(request.encode())
            response = http.client.HTTPResponse(sock)
            response.begin()
            assert response.status == status
            assert response.getheader("Connection") == "close"
            assert response.read() == b""


# --- item 9: slow clients -------------------------------------------------------------------

SILENT = {
    "half-sent headers": b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half: sent",
    "nothing at all": b"",
    "half a body": (
        f"POST {GOALS} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        'Content-Length: 100\r\n\r\n{"ti'
    ).encode(),
}


def test_silent_clients_hold_nothing_for_long(server):
    """Two clients of each kind go quiet: mid-headers, before their first byte, mid-body.
    Before (gunicorn's sync workers, issue 12 item 9): two such clients stopped /healthz. Now
    /healthz answers at once while they hang, and each is disconnected by the server within
    WEB_CLIENT_TIMEOUT (2 s here) and the watchdog's next look: the first two by hyper itself
    (``http1_header_read_timeout``, HTTP/1 mode), the bodies by delight.serve.Watchdog, which
    cuts a silent connection so that the body read holding a request thread ends (408 in the
    log)."""
    earlier = len(server.records())
    stalled = []
    for kind, sent in SILENT.items():
        for _ in range(2):
            sock = socket.create_connection(("127.0.0.1", server.port))
            sock.sendall(sent)
            stalled.append((kind, sock))
    time.sleep(0.3)  # every body read has begun
    try:
        for _ in range(10):
            started = time.monotonic()
            assert requests.get(f"{server.url}/healthz", timeout=5).status_code == 200
            assert time.monotonic() - started < 1
        deadline = time.monotonic() + CLIENT_TIMEOUT + 3
        for kind, sock in stalled:
            sock.settimeout(max(0.1, deadline - time.monotonic()))
            assert sock.recv(100) == b"", kind  # dropped, not answered
    finally:
        for _, sock in stalled:
            sock.close()

    def posts():
        return [
            r["http"]["status"]
            for r in server.records()[earlier:]
            if r["logger"] == "delight.request" and r["http"]["route"] == GOALS
        ]

    deadline = time.monotonic() + 5  # the app writes its line as the read ends
    while len(posts()) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert posts() == [408, 408]
    records = server.records()[earlier:]
    assert any("WEB_CLIENT_TIMEOUT" in r["message"] for r in records)
    assert not [r for r in records if r["level"] == "ERROR"]


def test_a_client_trickling_its_body_is_bounded_by_the_request_timeout(
    django_db_setup, django_db_blocker
):
    """A byte every half second is never silent for WEB_CLIENT_TIMEOUT: the request runs on,
    holding its thread. gunicorn killed such a worker after its ``timeout``; granian cannot
    stop a Python thread, so delight.serve's watchdog logs the stack of a request older than
    WEB_TIMEOUT and ends the worker, and granian starts a new one."""
    with django_db_blocker.unblock():
        served = Server(env={"WEB_TIMEOUT": "2", "WEB_CLIENT_TIMEOUT": "2"})
    try:
        (first,) = served.workers()
        sock = socket.create_connection(("127.0.0.1", served.port))
        sock.sendall(
            f"POST {GOALS} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n".encode()
        )
        deadline = time.monotonic() + 15
        with contextlib.suppress(OSError):  # the worker that read it is gone
            while time.monotonic() < deadline:
                sock.sendall(b"x")
                time.sleep(0.5)
        sock.close()
        assert time.monotonic() < deadline, "the trickle was never cut"
        while (workers := served.workers()) in ([], [first]) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(workers) == 1
        assert workers != [first]
        # With one worker the port has no listener until the new one has loaded Django (each
        # worker listens on its own: SO_REUSEPORT); production runs two or more.
        served._wait_until("/healthz")
        (stuck,) = [
            r for r in served.records() if r["logger"] == "delight.serve" and r["level"] == "ERROR"
        ]
        assert "longer than WEB_TIMEOUT" in stuck["message"]
        assert "_read_body" in stuck["stack"]  # where it was stuck
        assert stuck["pid"] == first
    finally:
        served.close()


# --- graceful shutdown and worker recycling --------------------------------------------------


def begin_post(port: int, body: bytes, sent: int) -> socket.socket:
    """A POST whose body is ``body``, of which the first ``sent`` bytes are sent now."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(
        f"POST {GOALS} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body[:sent]
    )
    return sock


def test_sigterm_lets_a_request_in_flight_finish_then_exits(django_db_setup, django_db_blocker):
    """SIGTERM to the main process (what Docker and Kubernetes send): no new connection is
    taken, the request in flight is answered, then the server exits 0."""
    with django_db_blocker.unblock():
        served = Server(env={"WEB_CLIENT_TIMEOUT": "10"})
    try:
        body = b'{"title": "in flight"}'
        sock = begin_post(served.port, body, sent=5)
        time.sleep(0.5)  # the request is being read by the app
        served.signal(signal.SIGTERM)
        time.sleep(1)
        with pytest.raises(ConnectionRefusedError):  # no listener any more
            socket.create_connection(("127.0.0.1", served.port), timeout=5).close()
        assert served.process.poll() is None  # still answering the request in flight
        sock.sendall(body[5:])
        response = http.client.HTTPResponse(sock)
        response.begin()
        assert response.status == 401  # answered in full (no token: the app's JSON 401)
        assert set(json.loads(response.read())) == {"detail"}
        sock.close()
        assert served.process.wait(timeout=30) == 0
        messages = [r["message"] for r in served.records()]
        assert "Granian shutdown completed, see ya!" in messages
    finally:
        served.close()


def test_a_worker_that_will_not_stop_is_killed_after_the_graceful_timeout(
    django_db_setup, django_db_blocker
):
    """A request that never ends (here a body that never comes, with a long client timeout)
    does not hold the shutdown beyond WEB_GRACEFUL_TIMEOUT (2 s here)."""
    with django_db_blocker.unblock():
        served = Server(
            env={"WEB_GRACEFUL_TIMEOUT": "2", "WEB_CLIENT_TIMEOUT": "60", "WEB_TIMEOUT": "120"}
        )
    try:
        sock = begin_post(served.port, b'{"title": "never"}', sent=5)
        time.sleep(0.5)
        started = time.monotonic()
        served.signal(signal.SIGTERM)
        assert served.process.wait(timeout=30) == 0
        assert time.monotonic() - started < 2 + 3
        sock.close()
        messages = [r["message"] for r in served.records()]
        assert "Killing worker-1 after it refused to gracefully stop" in messages
    finally:
        served.close()


def test_workers_over_their_memory_bound_are_replaced_without_a_failed_request(
    django_db_setup, django_db_blocker
):
    """WEB_WORKER_MAX_RSS (1 MiB here: every worker is over it) replaces each worker at the
    next sample (every 10 s): the new one starts, then the old one stops gracefully. Requests
    sent all along, a new connection each, are all answered."""
    with django_db_blocker.unblock():
        served = Server(workers=2, env={"WEB_WORKER_MAX_RSS": "1"})
    try:
        first = set(served.workers())
        statuses = collections.Counter()
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            try:
                statuses[requests.get(f"{served.url}/healthz", timeout=10).status_code] += 1
            except requests.ConnectionError as exc:
                statuses[type(exc.args[0]).__name__] += 1
            if not first & set(served.workers()) and "RSS over threshold" in served.output():
                break
            time.sleep(0.05)
        assert not first & set(served.workers()), "the workers were not replaced"
        assert list(statuses) == [200], statuses
        replaced = [r for r in served.records() if "RSS over threshold" in r["message"]]
        assert len(replaced) >= 2
    finally:
        served.close()


def test_no_request_carries_the_secrets_of_the_process_environment(
    django_db_setup, django_db_blocker
):
    """granian builds each request's WSGI environ on a copy of the process environment: the
    settings' secrets (and any variable named like one) are forgotten by each worker before
    that copy, so request.META never holds them. libpq's own variables stay (it reads them at
    every new connection), and so do the rest."""
    secrets = {
        "DJANGO_SECRET_KEY": "s" * 50,
        "CLERK_WEBHOOK_SIGNING_SECRET": "whsec_dGVzdA==",
        "SENTRY_DSN": "",
        "REDIS_URL": "",
        "OPERATOR_API_TOKEN": "t0ps3cret",
    }
    kept = {"PGAPPNAME": "delight-test", "DELIGHT_TEST_MARKER": "1"}
    with django_db_blocker.unblock():
        served = Server(
            env={**secrets, **kept, "WEB_APPLICATION": "tests.ops.environ_app:application"}
        )
    try:
        names = set(requests.get(f"{served.url}/api/v1/goals", timeout=10).json())
        assert not names & {*secrets, "DATABASE_URL", "CLERK_JWT_KEY"}, names
        assert {*kept, "PATH_INFO", "REQUEST_METHOD", "DJANGO_SETTINGS_MODULE"} <= names
    finally:
        served.close()


def test_forget_secrets_takes_out_what_may_hold_one():
    environ = {
        "DATABASE_URL": "postgresql://u:p@h/d",
        "DJANGO_SECRET_KEY": "k",
        "AWS_SECRET_ACCESS_KEY": "k",
        "GITHUB_TOKEN": "t",
        "SENTRY_DSN": "https://k@o/1",
        "SOME_PASSWORD": "p",
        "PGPASSWORD": "p",
        "PATH": "/usr/bin",
        "WEB_CONCURRENCY": "2",
        "PROMETHEUS_MULTIPROC_DIR": "metrics",
    }
    taken = serve.forget_secrets(environ)
    assert sorted(taken) == [
        "AWS_SECRET_ACCESS_KEY", "DATABASE_URL", "DJANGO_SECRET_KEY", "GITHUB_TOKEN",
        "SENTRY_DSN", "SOME_PASSWORD",
    ]  # fmt: skip
    assert set(environ) == {"PGPASSWORD", "PATH", "WEB_CONCURRENCY", "PROMETHEUS_MULTIPROC_DIR"}


# --- item 10: X-Forwarded-For from the right hop only ---------------------------------------


@pytest.fixture
def behind_proxy(settings):
    settings.BEHIND_PROXY = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")  # as settings.py
    settings.TRUSTED_PROXIES = ["127.0.0.1", "10.0.0.0/8"]
    settings.RATE_LIMIT_ANON_PER_MINUTE = 2


def test_a_direct_client_cannot_choose_its_address(behind_proxy, rf):
    """Before: any peer's X-Forwarded-For was believed with DJANGO_BEHIND_PROXY=1."""
    direct = rf.get("/", HTTP_X_FORWARDED_FOR="198.51.100.1", REMOTE_ADDR="203.0.113.9")
    assert throttling.client_address(direct) == "203.0.113.9"


def test_behind_trusted_proxies_the_first_untrusted_hop_is_the_client(behind_proxy, rf):
    spoofed = rf.get(
        "/", HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.7, 10.1.2.3", REMOTE_ADDR="127.0.0.1"
    )
    assert throttling.client_address(spoofed) == "198.51.100.7"
    only_proxies = rf.get("/", HTTP_X_FORWARDED_FOR="10.0.0.5", REMOTE_ADDR="127.0.0.1")
    assert throttling.client_address(only_proxies) == "10.0.0.5"
    nothing = rf.get("/", REMOTE_ADDR="127.0.0.1")
    assert throttling.client_address(nothing) == "127.0.0.1"


def test_any_peer_may_be_trusted_explicitly(behind_proxy, settings, rf):
    settings.TRUSTED_PROXIES = ["*"]
    request = rf.get("/", HTTP_X_FORWARDED_FOR="198.51.100.9, 203.0.113.50", REMOTE_ADDR="x")
    assert throttling.client_address(request) == "203.0.113.50"


@pytest.mark.django_db
def test_a_direct_client_rotating_x_forwarded_for_is_still_limited(behind_proxy):
    """Over HTTP through the middleware: the limit counts the peer, whatever it claims."""
    statuses = [
        APIClient(REMOTE_ADDR="203.0.113.9").get(GOALS, HTTP_X_FORWARDED_FOR=f"198.51.100.{n}")
        for n in range(3)
    ]
    assert [response.status_code for response in statuses] == [401, 401, 429]


@pytest.mark.django_db
def test_a_direct_client_cannot_claim_https(behind_proxy):
    direct = APIClient(REMOTE_ADDR="203.0.113.9").get("/", HTTP_X_FORWARDED_PROTO="https")
    assert direct.json()["links"]["docs"].startswith("http://")
    proxied = APIClient(REMOTE_ADDR="127.0.0.1").get("/", HTTP_X_FORWARDED_PROTO="https")
    assert proxied.json()["links"]["docs"].startswith("https://")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("proxies", "scheme", "statuses"),
    [("10.9.9.9", "http", [401, 401, 429]), ("127.0.0.1", "https", [401, 401, 401])],
)
def test_the_server_leaves_forwarded_headers_to_the_app(proxies, scheme, statuses):
    """Over the production server: granian passes X-Forwarded-* on untouched and
    ``REMOTE_ADDR`` is the peer, so the app alone decides. From a peer outside
    FORWARDED_ALLOW_IPS a claimed HTTPS and a rotating X-Forwarded-For are ignored (one client,
    limited after 2); from a trusted proxy both are believed (three clients)."""
    served = Server(
        env={
            "DJANGO_BEHIND_PROXY": "1",
            "FORWARDED_ALLOW_IPS": proxies,
            "RATE_LIMIT_ANON_PER_MINUTE": "2",
        }
    )
    try:
        root = requests.get(f"{served.url}/", headers={"X-Forwarded-Proto": "https"}, timeout=10)
        assert root.json()["links"]["docs"].startswith(f"{scheme}://")
        answered = [
            requests.get(
                f"{served.url}{GOALS}", headers={"X-Forwarded-For": f"198.51.100.{n}"}, timeout=10
            ).status_code
            for n in range(3)
        ]
        assert answered == statuses
    finally:
        served.close()

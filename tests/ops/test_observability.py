"""Logs, metrics and error reports an operator can use (issue 16): JSON lines with request ids
in production, plain lines under make run, Prometheus metrics summed over the production
server's workers (python -m delight.serve) on a port of their own, Sentry only when asked for,
and never a credential in any of them."""

import gzip
import io
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from delight import requestlog
from tests.delight.test_entrypoint import free_port
from tests.ops.servers import ROOT, Server
from tests.tokens import make_token

GOALS = "/api/v1/goals"


def console_lines(client, *requests_):
    """What the configured console handler writes while ``client`` sends ``requests_``."""
    (console,) = [
        handler
        for handler in logging.getLogger().handlers
        if any(isinstance(f, requestlog.RequestIdFilter) for f in handler.filters)
    ]
    stream = io.StringIO()
    previous = console.setStream(stream)
    try:
        for send in requests_:
            send(client)
    finally:
        console.setStream(previous)
    return stream.getvalue().splitlines()


@pytest.mark.django_db
def test_the_access_line_is_json_with_everything_an_operator_needs(client):
    token = make_token("user_logged")
    (line,) = console_lines(
        client,
        lambda c: c.get(GOALS, HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_X_REQUEST_ID="rq-1"),
    )
    record = json.loads(line)
    assert record["request_id"] == "rq-1"
    assert record["logger"] == "delight.request"
    assert record["level"] == "INFO"
    assert record["time"].endswith("+00:00")
    http = record["http"]
    assert (http["method"], http["route"], http["status"], http["user_id"]) == (
        "GET",
        "/api/v1/goals",
        200,
        "user_logged",
    )
    assert http["duration_ms"] > 0


@pytest.mark.django_db
def test_no_token_password_or_goal_text_is_logged(client, caplog):
    token = make_token("user_secret")
    lines = console_lines(
        client,
        lambda c: c.post(
            GOALS,
            {"title": "My secret ambition", "goal_type": "concrete", "value_category": "craft"},
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        ),
        lambda c: c.post("/admin/login/", {"username": "staff", "password": "hunter2-secret"}),
        lambda c: c.get(GOALS, HTTP_AUTHORIZATION=f"Bearer {token}x"),  # a bad token: 401
        # Code that logs a token by mistake: the filter still keeps it out.
        lambda c: logging.getLogger("goals").warning("oops %s", f"Bearer {token}"),
    )
    text = "\n".join(lines)
    assert len(lines) == 4, lines
    for secret in (token, token.split(".")[1], "hunter2-secret", "My secret ambition"):
        assert secret not in text
    assert "[redacted]" in text


@pytest.mark.django_db
def test_a_refused_request_is_one_warning_without_its_url(client, settings):
    """A Host not in ALLOWED_HOSTS, too many fields: the client's mistake (400), one WARNING
    and the access line; no traceback, and not the URL, which may hold what a person typed."""
    settings.ALLOWED_HOSTS = ["api.delight.example"]
    many = "&".join(f"f{i}=1" for i in range(1_100))
    lines = console_lines(
        client,
        lambda c: c.get(f"{GOALS}?q=my+private+words", HTTP_HOST="evil.example"),
        lambda c: c.get(f"{GOALS}?q=my+private+words&{many}", HTTP_HOST="api.delight.example"),
    )
    records = [json.loads(line) for line in lines]
    refused = [r for r in records if r["logger"].startswith("django.security.")]
    assert [(r["logger"], r["level"]) for r in refused] == [
        ("django.security.DisallowedHost", "WARNING"),
        ("django.security.TooManyFieldsSent", "WARNING"),
    ]
    assert "evil.example" in refused[0]["message"]
    assert [r["http"]["status"] for r in records if r["logger"] == "delight.request"] == [400, 400]
    text = "\n".join(lines)
    for leaked in ("private", "Traceback", "exc_info"):
        assert leaked not in text


@pytest.mark.django_db
def test_a_503_is_one_line_with_its_request_id(client, monkeypatch):
    """Django's django.request logged a second line for every 5xx answer, after the request
    (no request id): an outage doubled the error lines, half of them unattributable."""
    from django.db.migrations.executor import MigrationExecutor

    from delight import health

    monkeypatch.setattr(health, "_fully_migrated", False)
    monkeypatch.setattr(MigrationExecutor, "migration_plan", lambda self, targets: ["pending"])
    (line,) = console_lines(client, lambda c: c.get("/readyz", HTTP_X_REQUEST_ID="rq-503"))
    record = json.loads(line)
    assert (record["logger"], record["request_id"], record["http"]["status"]) == (
        "delight.request",
        "rq-503",
        503,
    )


def test_a_json_line_is_never_lost_to_what_orjson_refuses():
    """A lone surrogate, an integer beyond 64 bits: orjson refuses both; the line is written."""
    formatter = requestlog.JSONFormatter()
    record = logging.LogRecord("delight", logging.WARNING, "", 0, "odd %s", ("caf\ud800",), None)
    record.request_id = "abc"
    record.count = 2**70
    line = json.loads(formatter.format(record))
    assert line["message"] == "odd caf\ud800"
    assert line["count"] == 2**70
    plain = logging.LogRecord("delight", logging.INFO, "", 0, "café", None, None)
    plain.request_id = "abc"
    assert json.loads(formatter.format(plain))["message"] == "café"


def test_the_plain_format_is_for_people(monkeypatch):
    """make run (DEBUG on) writes plain lines; production (DEBUG off) JSON; DJANGO_LOG_FORMAT
    chooses either."""
    monkeypatch.delenv("DJANGO_LOG_FORMAT", raising=False)
    monkeypatch.setenv("DJANGO_DEBUG", "1")
    assert requestlog.log_format() == "plain"
    monkeypatch.setenv("DJANGO_DEBUG", "0")
    assert requestlog.log_format() == "json"
    monkeypatch.setenv("DJANGO_LOG_FORMAT", "plain")
    assert requestlog.log_format() == "plain"
    monkeypatch.setenv("DJANGO_LOG_FORMAT", "xml")
    with pytest.raises(Exception, match="DJANGO_LOG_FORMAT"):
        requestlog.log_format()
    config = requestlog.logging_config(fmt="plain", level="INFO")
    formatter = logging.Formatter(config["formatters"]["console"]["format"])
    record = logging.LogRecord("delight.request", logging.INFO, "", 0, "GET / 200", None, None)
    record.request_id = "abc"
    assert formatter.format(record).endswith("INFO delight.request [abc] GET / 200")


def test_make_run_logs_plain_lines(tmp_path):
    """Under runserver with DEBUG on, as make run serves: a person reads these lines."""
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django, logging; django.setup(); "
            "logging.getLogger('delight.request').info('GET /healthz 200 1.0ms')",
        ],
        cwd=ROOT,
        env={
            "DJANGO_SETTINGS_MODULE": "delight.settings",
            "DJANGO_DEBUG": "1",
            # Never connected to; set so that settings do not start the embedded PostgreSQL.
            "DATABASE_URL": "postgresql://nobody@127.0.0.1:9/none",
            "PATH": "",
        },
        capture_output=True,
        text=True,
        check=True,
    )
    assert " INFO delight.request [-] GET /healthz 200 1.0ms" in result.stdout
    assert not result.stdout.lstrip().startswith("{")


@pytest.fixture(scope="module")
def metered(django_db_setup, django_db_blocker, tmp_path_factory):
    port = free_port()
    directory = tmp_path_factory.mktemp("metrics")
    # An earlier run's samples (here unreadable): the server empties the directory first.
    (directory / "counter_99999999.db").write_bytes(b"not a sample file")
    with django_db_blocker.unblock():
        server = Server(
            workers=2,
            env={
                "METRICS_PORT": str(port),
                "METRICS_ADDR": "127.0.0.1",
                "PROMETHEUS_MULTIPROC_DIR": str(directory),
            },
        )
    server.metrics_url = f"http://127.0.0.1:{port}/metrics"
    server.metrics_dir = directory
    yield server
    server.close()


def samples(text: str, name: str) -> dict[str, float]:
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name)
    }


@pytest.mark.django_db(transaction=True)
def test_metrics_count_every_worker_by_route_method_and_status(metered):
    token = make_token("user_metrics")
    # A new connection each (no Session): the two workers share the load.
    for _ in range(20):
        requests.get(
            f"{metered.url}{GOALS}", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
    for _ in range(3):
        requests.get(f"{metered.url}{GOALS}/x", headers={"Authorization": "Bearer x"}, timeout=10)
    requests.get(f"{metered.url}/static/delight/favicon.ico", timeout=10)
    text = requests.get(metered.metrics_url, timeout=10).text
    counts = samples(text, "delight_http_requests_total")
    static = 'delight_http_requests_total{method="GET",route="/static/{path}",status="200"}'
    assert counts[static] == 1, [key for key in counts if "static" in key]
    # Known outcomes are series from the start, at 0 until the first event.
    fetches = samples(text, "delight_jwks_fetches_total")
    assert fetches['delight_jwks_fetches_total{outcome="failed"}'] == 0
    refused = samples(text, "delight_rate_limited_total")
    assert set(refused) == {
        'delight_rate_limited_total{scope="user"}',
        'delight_rate_limited_total{scope="address"}',
    }
    assert (
        counts['delight_http_requests_total{method="GET",route="/api/v1/goals",status="200"}'] == 20
    )
    assert counts['delight_http_requests_total{method="GET",route="unmatched",status="404"}'] == 3
    latency = samples(text, "delight_http_request_duration_seconds_count")
    assert (
        latency['delight_http_request_duration_seconds_count{method="GET",route="/api/v1/goals"}']
        == 20
    )
    assert "delight_http_request_duration_seconds_bucket" in text


def test_metrics_are_not_served_on_the_public_port(metered):
    assert requests.get(f"{metered.url}/metrics", timeout=10).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_a_dead_workers_counts_stay_and_a_new_worker_takes_its_place(metered):
    """A worker that dies (a crash, the watchdog, recycling) is replaced; the requests it
    answered stay counted (counters only grow), and its live gauges go (none today: a file the
    test puts there stands for them)."""
    token = make_token("user_metrics_dead")
    for _ in range(6):
        requests.get(
            f"{metered.url}{GOALS}", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
    total = 'delight_http_requests_total{method="GET",route="/api/v1/goals",status="200"}'
    before = samples(requests.get(metered.metrics_url, timeout=10).text, total)[total]
    victim, survivor = metered.workers()
    gauge = metered.metrics_dir / f"gauge_livesum_{victim}.db"
    gauge.write_bytes(b"")
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while victim in (workers := metered.workers()) or len(workers) < 2:
        assert time.monotonic() < deadline, workers
        time.sleep(0.2)
    assert survivor in workers
    while gauge.exists():
        assert time.monotonic() < deadline
        time.sleep(0.1)
    metered._wait_until("/healthz")
    after = samples(requests.get(metered.metrics_url, timeout=10).text, total)[total]
    assert after == before
    respawned = [r for r in metered.records() if r["logger"] == "_granian"]
    assert any("Respawning worker" in r["message"] for r in respawned)


def test_one_json_line_per_request_from_the_server_and_its_own_lines_alike(metered):
    """The app's access line is the only one (granian's access log stays off); granian's own
    lines go through the same JSON formatter."""
    requests.get(f"{metered.url}/healthz", headers={"X-Request-ID": "rq-served-1"}, timeout=10)
    time.sleep(0.2)
    records = metered.records()  # every line parses as JSON
    (line,) = [r for r in records if r["request_id"] == "rq-served-1"]
    assert (line["logger"], line["http"]["route"], line["http"]["status"]) == (
        "delight.request",
        "/healthz",
        200,
    )
    assert line["pid"] in metered.workers()
    assert not [r for r in records if r["logger"].startswith("granian.access")]
    started = [r["message"] for r in records if r["logger"].startswith("_granian")]
    assert any(message.startswith("Listening at: http://0.0.0.0:") for message in started)
    assert any("metrics on 127.0.0.1:" in r["message"] for r in records)


@pytest.mark.django_db(transaction=True)
def test_rate_limit_refusals_are_counted(settings):
    from delight import metrics, throttling

    before = metrics.RATE_LIMITED.labels(scope="user")._value.get()
    settings.RATE_LIMIT_USER_PER_MINUTE = 1
    assert throttling.hit("user:metrics-test", 1, scope="user") is None
    assert throttling.hit("user:metrics-test", 1, scope="user") is not None
    assert metrics.RATE_LIMITED.labels(scope="user")._value.get() == before + 1


def test_the_counter_api_for_other_modules():
    from delight import metrics

    fetched = metrics.KEY_FETCHES.labels(outcome="failed")._value.get()
    errors = metrics.DATABASE_ERRORS.labels(kind="lock_timeout")._value.get()
    metrics.key_fetch(ok=False)
    metrics.database_error("lock_timeout")
    assert metrics.KEY_FETCHES.labels(outcome="failed")._value.get() == fetched + 1
    assert metrics.DATABASE_ERRORS.labels(kind="lock_timeout")._value.get() == errors + 1


class SentryServer:
    """A real HTTP server standing in for Sentry's ingestion endpoint: keeps every envelope."""

    def __init__(self):
        self.envelopes: list[bytes] = []
        received = self.envelopes

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                received.append(body)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.dsn = f"http://public@127.0.0.1:{self.httpd.server_port}/1"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_sentry_reports_errors_without_credentials():
    import sentry_sdk

    from delight import sentry

    server = SentryServer()
    token = make_token("user_sentry")
    try:
        sentry.init(dsn=server.dsn, environment="test", traces_sample_rate=0)
        try:
            raise ValueError(f"broke while holding Bearer {token}")
        except ValueError as exc:
            sentry_sdk.capture_exception(exc)
        sentry_sdk.flush(timeout=10)
    finally:
        sentry_sdk.init(dsn=None)  # off again, as without SENTRY_DSN
        server.close()
    envelope = b"".join(server.envelopes)
    assert b"ValueError" in envelope
    assert token.encode() not in envelope
    assert b"[redacted]" in envelope


@pytest.mark.django_db
def test_sentry_is_not_told_of_refused_requests(client, settings):
    """django.security.* (a Host not allowed, too many fields) is logged at ERROR by Django; the
    SDK's logging integration would make each an event, with its URL."""
    import sentry_sdk

    from delight import sentry

    settings.ALLOWED_HOSTS = ["api.delight.example"]
    server = SentryServer()
    try:
        sentry.init(dsn=server.dsn, environment="test", traces_sample_rate=0)
        assert client.get(f"{GOALS}?q=private", HTTP_HOST="evil.example").status_code == 400
        sentry_sdk.capture_message("a real error")
        sentry_sdk.flush(timeout=10)
    finally:
        sentry_sdk.init(dsn=None)
        server.close()
    envelope = b"".join(server.envelopes)
    assert b"a real error" in envelope  # the transport works
    assert b"DisallowedHost" not in envelope
    assert b"private" not in envelope


def test_sentry_is_off_by_default(settings):
    import sentry_sdk

    assert settings.SENTRY_DSN is None
    assert sentry_sdk.get_client().dsn is None

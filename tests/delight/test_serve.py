"""delight/serve.py's parts, in this process: its settings, the application wrapper, the
watchdog's look at sockets. What they do in a running server is tested against the server
itself in tests/ops (test_server_hardening, test_observability)."""

import io
import json
import os
import socket
import time
from unittest import mock

import pytest

from delight import serve

GOALS = "/api/v1/goals"


@pytest.fixture
def environ(monkeypatch):
    """No server setting from the shell: each test sets its own."""
    for name in list(os.environ):
        if name.startswith(("WEB_", "GUNICORN_", "METRICS_")) or name in {"PORT"}:
            monkeypatch.delenv(name)
    return monkeypatch


def test_the_defaults(environ):
    config = serve.Config.from_environ()
    assert config.port == 8000
    assert config.workers == len(os.sched_getaffinity(0))
    assert config.threads == 2
    assert (config.request_timeout, config.client_timeout, config.graceful_timeout) == (30, 10, 20)
    assert (config.worker_lifetime, config.worker_max_rss, config.metrics_port) == (None,) * 3
    assert config.metrics_addr == "127.0.0.1"


def test_every_setting_is_read(environ):
    for name, value in {
        "PORT": "9000",
        "WEB_CONCURRENCY": "3",
        "WEB_THREADS": "4",
        "WEB_TIMEOUT": "15",
        "WEB_CLIENT_TIMEOUT": "5",
        "WEB_GRACEFUL_TIMEOUT": "25",
        "WEB_WORKER_LIFETIME": "3600",
        "WEB_WORKER_MAX_RSS": "512",
        "METRICS_PORT": "9102",
        "METRICS_ADDR": "0.0.0.0",  # noqa: S104
        "DJANGO_LOG_LEVEL": "WARNING",
    }.items():
        environ.setenv(name, value)
    assert serve.Config.from_environ() == serve.Config(
        port=9000,
        workers=3,
        threads=4,
        request_timeout=15,
        client_timeout=5,
        graceful_timeout=25,
        worker_lifetime=3600,
        worker_max_rss=512,
        metrics_port=9102,
        metrics_addr="0.0.0.0",  # noqa: S104
        log_level="warning",
    )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("GUNICORN_TIMEOUT", "30", "GUNICORN_TIMEOUT is now WEB_TIMEOUT; unset it."),
        ("GUNICORN_CLIENT_TIMEOUT", "10", "GUNICORN_CLIENT_TIMEOUT is now WEB_CLIENT_TIMEOUT"),
        ("GUNICORN_MAX_REQUESTS", "1000", "(WEB_WORKER_LIFETIME, seconds) or memory"),
        ("GUNICORN_ACCESS_LOG", "-", "the app writes one access line per request"),
        ("WEB_THREADS", "two", "WEB_THREADS must be a whole number (got 'two')."),
        ("WEB_CONCURRENCY", "0", "WEB_CONCURRENCY must be at least 1 (got 0)."),
        ("PORT", "70000", "PORT must be at most 65535 (got 70000)."),
        ("WEB_CLIENT_TIMEOUT", "61", "WEB_CLIENT_TIMEOUT must be at most 60 (got 61)."),
        ("WEB_GRACEFUL_TIMEOUT", "3600", "WEB_GRACEFUL_TIMEOUT must be at most 1800"),
        ("WEB_WORKER_LIFETIME", "30", "WEB_WORKER_LIFETIME must be at least 60 seconds (got 30)."),
        ("DJANGO_LOG_LEVEL", "chatty", "DJANGO_LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR"),
    ],
)
def test_a_setting_it_cannot_use_stops_the_start_with_its_reason(environ, name, value, message):
    environ.setenv(name, value)
    with pytest.raises(serve.ConfigurationError) as refused:
        serve.Config.from_environ()
    assert message in str(refused.value)


def test_a_blank_setting_is_unset(environ):
    """compose passes ``${NAME:-}``: blank, never a refusal."""
    environ.setenv("GUNICORN_TIMEOUT", "  ")
    environ.setenv("WEB_THREADS", "")
    assert serve.Config.from_environ().threads == 2


# --- the application wrapper -----------------------------------------------------------------


class Answer:
    """What Django returns: an iterable with ``close``."""

    def __init__(self, *pieces):
        self.pieces = pieces
        self.closed = False

    def __iter__(self):
        return iter(self.pieces)

    def close(self):
        self.closed = True


class Body:
    """granian's ``wsgi.input``: read(size) returns what arrived, up to size."""

    def __init__(self, data: bytes, *, before=None):
        self.data = data
        self.asked = []
        self.before = before

    def read(self, size=None):
        self.asked.append(size)
        if self.before:
            self.before()
        return self.data[:size]


def call(application, **environ):
    seen = {}
    answer = Answer(b"{", b"}")

    def app(environ, start_response):
        seen.update(environ, body=environ["wsgi.input"].read())
        return answer

    application.app = app
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": GOALS, "REMOTE_ADDR": "192.0.2.1", **environ}
    assert application(environ, None) == [b"{}"]
    assert answer.closed  # Django's request_finished
    assert application.running == {}
    return seen


@pytest.fixture
def application():
    return serve.Application(None, body_limit=100, client_timeout=2.0)


def test_a_body_is_read_and_handed_on(application):
    body = Body(b'{"title": "x"}')
    seen = call(application, CONTENT_LENGTH="14", **{"wsgi.input": body})
    assert seen["body"] == b'{"title": "x"}'
    assert seen["CONTENT_LENGTH"] == "14"
    assert body.asked == [14]


def test_a_chunked_body_is_given_its_length(application):
    body = Body(b'{"title": "chunked"}')
    seen = call(application, HTTP_TRANSFER_ENCODING="chunked", **{"wsgi.input": body})
    assert seen["body"] == b'{"title": "chunked"}'
    assert seen["CONTENT_LENGTH"] == "20"
    assert "HTTP_TRANSFER_ENCODING" not in seen
    assert body.asked == [101]  # one byte over the limit: the app answers 413 past it


@pytest.mark.parametrize("length", ["0", "101", "many"])
def test_a_body_the_app_refuses_or_that_is_empty_is_not_read(application, length):
    body = Body(b"x" * 200)
    seen = call(application, CONTENT_LENGTH=length, **{"wsgi.input": body})
    assert body.asked == [None]  # only the app's own read
    assert seen["CONTENT_LENGTH"] == length


def test_an_unknown_transfer_coding_is_left_to_the_app(application):
    body = Body(b"")
    seen = call(application, HTTP_TRANSFER_ENCODING="gzip", **{"wsgi.input": body})
    assert seen["HTTP_TRANSFER_ENCODING"] == "gzip"


def test_a_body_cut_by_the_watchdog_is_marked_for_the_408(application):
    cut = lambda: application.cut.update({"192.0.2.1": time.monotonic()})  # noqa: E731
    seen = call(application, CONTENT_LENGTH="50", **{"wsgi.input": Body(b"{", before=cut)})
    assert seen[serve.BODY_TIMEOUT_KEY] == 2.0
    assert (seen["body"], seen["CONTENT_LENGTH"]) == (b"", "0")


def test_a_body_cut_short_by_its_client_is_handed_on_short(application):
    """The client closed early: the app answers its truncated JSON with 400."""
    seen = call(application, CONTENT_LENGTH="50", **{"wsgi.input": Body(b'{"ti')})
    assert serve.BODY_TIMEOUT_KEY not in seen
    assert (seen["body"], seen["CONTENT_LENGTH"]) == (b'{"ti', "50")


def test_the_408_is_the_apps(rf):
    """BodySizeLimitMiddleware answers a marked request itself, with Connection: close."""
    from delight.middleware import BodySizeLimitMiddleware

    request = rf.post(GOALS, data=b"", content_type="application/json")
    request.META[serve.BODY_TIMEOUT_KEY] = 10.0
    response = BodySizeLimitMiddleware(lambda request: None)(request)
    assert response.status_code == 408
    assert response["Connection"] == "close"
    assert json.loads(response.content) == {
        "detail": "The request body did not arrive within 10 seconds."
    }


# --- the watchdog ------------------------------------------------------------------------------


def test_a_request_past_the_timeout_ends_the_worker(application, monkeypatch):
    given_up = []
    watchdog = serve.Watchdog(application, port=1, request_timeout=5.0)
    watchdog.inspect_sockets = False
    monkeypatch.setattr(watchdog, "_give_up", lambda *args: given_up.append(args))
    application.running[1] = [time.monotonic() - 4, {"REMOTE_ADDR": "a"}, None]
    watchdog.check()
    assert given_up == []
    application.running[2] = [time.monotonic() - 6, {"REMOTE_ADDR": "b"}, None]
    watchdog.check()
    assert [thread for thread, *_ in given_up] == [2]


class Listener:
    """A TCP listener in this process and its accepted connections, standing for a worker's."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.clients: list[socket.socket] = []
        self.accepted: list[socket.socket] = []

    def connect(self, send: bytes = b"") -> socket.socket:
        client = socket.create_connection(("127.0.0.1", self.port))
        if send:
            client.sendall(send)
        self.clients.append(client)
        self.accepted.append(self.sock.accept()[0])
        return client

    def close(self):
        for sock in (*self.clients, *self.accepted, self.sock):
            sock.close()


def is_cut(client: socket.socket) -> bool:
    client.settimeout(0.5)
    try:
        return client.recv(10) == b""
    except TimeoutError:
        return False


def test_the_watchdog_cuts_silent_clients_only(application):
    """Never spoke: cut. Stopped mid-body (its address has a request reading a body): cut, and
    noted for the 408. Sent a whole request that is being answered, from an address with a
    request in the app: kept. Spoke within the timeout: kept."""
    listener = Listener()
    try:
        silent = listener.connect()
        mid_body = listener.connect(b"POST / HTTP/1.1\r\nContent-Length: 9\r\n\r\n{")
        time.sleep(0.3)
        recent = listener.connect(b"GET / HTTP/1.1\r\n")
        application.client_timeout = 0.2
        watchdog = serve.Watchdog(application, port=listener.port, request_timeout=30.0)
        cut = watchdog.cut_silent_clients(busy=set(), reading={"127.0.0.1"})
        assert cut == ["127.0.0.1", "127.0.0.1"]
        assert is_cut(silent)
        assert is_cut(mid_body)
        assert not is_cut(recent)
        assert application.cut["127.0.0.1"] <= time.monotonic()

        answered = listener.connect(b"GET / HTTP/1.1\r\n\r\n")
        time.sleep(0.3)
        assert watchdog.cut_silent_clients(busy={"127.0.0.1"}, reading={"127.0.0.1"}) == []
        assert not is_cut(answered)
    finally:
        listener.close()


def test_the_watchdog_reads_the_requests_it_watches(application, monkeypatch):
    """check(): addresses reading a body for longer than the client timeout, and those with a
    request past its body, as cut_silent_clients wants them."""
    watchdog = serve.Watchdog(application, port=1, request_timeout=30.0)
    seen = []
    monkeypatch.setattr(watchdog, "cut_silent_clients", lambda *sets: seen.append(sets))
    now = time.monotonic()
    application.running[1] = [now - 5, {"REMOTE_ADDR": "192.0.2.1"}, now - 3]  # stalled body
    application.running[2] = [now - 1, {"REMOTE_ADDR": "192.0.2.2"}, now - 1]  # body arriving
    application.running[3] = [now - 1, {"REMOTE_ADDR": "192.0.2.3"}, None]  # in the app
    application.cut.update({"192.0.2.8": now - 31, "192.0.2.9": now - 29})
    watchdog.check()
    assert seen == [({"192.0.2.3"}, {"192.0.2.1"})]
    assert list(application.cut) == ["192.0.2.9"]  # older cuts forgotten


# --- the main process ---------------------------------------------------------------------------


def unset_metrics_directory(environ) -> None:
    """Unset now, and after the test too (main sets it in this process's environment)."""
    environ.setenv("PROMETHEUS_MULTIPROC_DIR", "-")
    environ.delenv("PROMETHEUS_MULTIPROC_DIR")


def test_the_metrics_directory_is_made_or_emptied(environ, tmp_path):
    unset_metrics_directory(environ)
    path, own = serve.metrics_directory()
    try:
        assert own
        assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == path
        assert os.listdir(path) == []
    finally:
        os.rmdir(path)
    (tmp_path / "counter_1.db").write_bytes(b"old")
    (tmp_path / "keep.txt").write_text("not a sample file")
    environ.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    assert serve.metrics_directory() == (str(tmp_path), False)
    assert os.listdir(tmp_path) == ["keep.txt"]
    environ.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "new"))
    serve.metrics_directory()
    assert os.listdir(tmp_path / "new") == []  # made when missing


def test_a_port_already_served_is_refused():
    """granian's listeners share their port (SO_REUSEPORT): without this check a second server
    would take half of the first one's connections."""
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(serve.ConfigurationError, match=f"port {port} is already in use"):
            serve.check_port_free("0.0.0.0", port)  # noqa: S104
    serve.check_port_free("127.0.0.1", port)  # free again


def test_the_open_files_limit_is_raised_to_the_hard_limit():
    import resource

    serve.raise_open_files_limit()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert soft == hard


def test_the_body_stream_handed_to_django_is_a_plain_stream(application):
    seen = call(application, CONTENT_LENGTH="2", **{"wsgi.input": Body(b"{}")})
    assert isinstance(seen["wsgi.input"], io.BytesIO)


def test_the_server_is_built_with_every_bound(monkeypatch, tmp_path):
    """The settings granian gets from delight.serve (granian itself runs in tests/ops)."""
    from granian.constants import HTTPModes, Interfaces

    monkeypatch.setattr("granian.server.common.configure_logging", lambda *args: None)
    config = serve.Config(
        port=8123,
        workers=3,
        threads=4,
        request_timeout=30,
        client_timeout=7,
        graceful_timeout=25,
        worker_lifetime=3600,
        worker_max_rss=512,
        metrics_port=None,
        metrics_addr="127.0.0.1",
        log_level="info",
    )
    server = serve.build_server(config, {"version": 1}, str(tmp_path))
    assert (server.bind_addr, server.bind_port, server.interface) == (
        "0.0.0.0",  # noqa: S104
        8123,
        Interfaces.WSGI,
    )
    assert (server.workers, server.blocking_threads, server.http) == (3, 4, HTTPModes.http1)
    assert server.http1_settings.header_read_timeout == 7000
    assert server.http1_settings.max_buffer_size == serve.HEAD_BUFFER_BYTES
    assert (server.log_access, server.respawn_failed_workers) == (False, True)
    assert (server.workers_lifetime, server.workers_rss) == (3600, 512 * 1024 * 1024)
    assert server.workers_kill_timeout == 25


def test_a_dead_worker_is_marked_dead_for_the_metrics(monkeypatch, tmp_path):
    """Every worker's watcher (granian's thread that waits for it to exit) then drops its live
    gauges: the spawn is wrapped, without starting a process here."""
    from delight import metrics

    monkeypatch.setattr("granian.server.common.configure_logging", lambda *args: None)
    config = serve.Config(8123, 1, 1, 30, 10, 20, None, None, None, "127.0.0.1", "info")
    server = serve.build_server(config, {"version": 1}, str(tmp_path))

    class Worker:
        inner = type("Process", (), {"pid": 4242})()
        _watcher = staticmethod(lambda: None)

    monkeypatch.setattr(type(server), "_spawn_worker", lambda self, *args, **kwargs: Worker())
    dead = []
    monkeypatch.setattr(metrics, "mark_process_dead", lambda pid, path: dead.append((pid, path)))
    worker = serve.build_server(config, {"version": 1}, str(tmp_path))._spawn_worker(idx=0)
    worker._watcher()
    assert dead == [(4242, str(tmp_path))]


class FakeServer:
    def __init__(self, *args):
        self.args = args
        self.shutdown = []
        self.loader = None

    def on_shutdown(self, hook):
        self.shutdown.append(hook)

    def serve(self, target_loader):
        self.loader = target_loader


def test_main_loads_everything_then_serves_the_wrapped_application(environ, monkeypatch, tmp_path):
    """In this process, granian's Server replaced: the settings are loaded, the metrics
    exporter serves on its own port, and the worker's loader gives the wrapped application."""
    import requests

    from tests.delight.test_entrypoint import free_port

    built = []
    monkeypatch.setattr(
        serve, "build_server", lambda *args: built.append(FakeServer(*args)) or built[-1]
    )
    monkeypatch.setattr(serve, "_config", None)
    monkeypatch.setattr(serve, "_exporter", None)
    metrics_port = free_port()
    environ.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    environ.setenv("PORT", str(free_port()))
    environ.setenv("METRICS_PORT", str(metrics_port))
    environ.setenv("WEB_THREADS", "3")
    serve.main()
    (server,) = built
    try:
        config, log_config, metrics_dir = server.args
        assert (config.threads, metrics_dir) == (3, str(tmp_path))
        assert server.shutdown == []  # the directory is not its own: kept
        assert log_config["formatters"]  # settings.LOGGING, copied
        text = requests.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).text
        assert "python_info" not in text  # the multiprocess collector, not this process's
        with mock.patch.dict(os.environ):  # the worker's loader forgets the secrets: not ours
            application = server.loader(serve.TARGET)
            assert "DJANGO_SECRET_KEY" not in os.environ
        assert "DJANGO_SECRET_KEY" in os.environ
        try:
            assert isinstance(application, serve.Application)
            assert application.client_timeout == 10.0
            assert application.watchdog.request_timeout == 30.0
        finally:
            application.watchdog.stopped.set()
    finally:
        serve._exporter[0].shutdown()


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        (("GUNICORN_TIMEOUT", "30"), "delight.serve: GUNICORN_TIMEOUT is now WEB_TIMEOUT"),
        (("METRICS_PORT", "taken"), "delight.serve: metrics on 127.0.0.1:"),
    ],
)
def test_main_refuses_in_one_line_and_leaves_nothing_behind(environ, monkeypatch, setting, message):
    from tests.delight.test_entrypoint import free_port

    monkeypatch.setattr(serve, "build_server", lambda *args: pytest.fail("served"))
    monkeypatch.setattr(serve, "_exporter", None)
    unset_metrics_directory(environ)
    environ.setenv("PORT", str(free_port()))
    made = []
    original = serve.metrics_directory
    monkeypatch.setattr(serve, "metrics_directory", lambda: made.append(original()) or made[-1])
    with socket.create_server(("127.0.0.1", 0)) as taken:
        name, value = setting
        environ.setenv(name, str(taken.getsockname()[1]) if value == "taken" else value)
        with pytest.raises(SystemExit) as refused:
            serve.main()
    assert str(refused.value).startswith(message)
    ((directory, own),) = made
    assert own
    assert not os.path.exists(directory)  # its own metrics directory, removed

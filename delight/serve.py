"""The production server: ``python -m delight.serve``.

Serves ``delight.wsgi:application`` on ``0.0.0.0:$PORT`` (8000) with granian
(https://github.com/emmett-framework/granian): a Rust HTTP server (hyper) that reads and writes
the sockets, and ``WEB_CONCURRENCY`` Python worker processes, each running the application on
``WEB_THREADS`` threads. It served this project 20 to 44 % faster than gunicorn's sync workers on
the same machine (docs/SCALING.md). The Dockerfile, docker-compose.yml, ``make topology``, the
soak and the tests all start the service this way; ``make run`` stays Django's runserver.

Every protection the service had under gunicorn is kept (docs/SCALING.md, "The server", puts
them side by side); where granian has no setting for one, a thin layer here provides it (the
``Application`` wrapper and the ``Watchdog`` thread of each worker), or the app itself. The
wrapper costs a request about half a microsecond, two with a body (measured in-process):

- Slow clients. hyper reads request lines and headers without a Python thread; a client that
  sends nothing, stops mid-headers or sits idle on a kept-alive connection is dropped after
  ``WEB_CLIENT_TIMEOUT`` (granian's ``http1_header_read_timeout``; in HTTP/1 mode only: the
  default "auto" mode waits for a first byte without a deadline, to tell HTTP/2 from HTTP/1).
  Nothing in granian bounds the rest: a body is read through a blocking call without a
  deadline (https://github.com/emmett-framework/granian/issues/728, closed as won't fix),
  holding a request thread for as long as the client likes. The ``Watchdog`` of each worker
  looks at its connections through the kernel (``TCP_INFO``) and shuts down those whose client
  has been silent for ``WEB_CLIENT_TIMEOUT`` mid-body or has stopped taking its answer (and,
  should hyper ever keep one, a connection that never spoke); the body read then ends, the app
  answers 408 (delight.middleware.BodySizeLimitMiddleware), and the thread moves on. (Reading
  the body on another thread and giving up on it does not work: once the request returns,
  granian waits for that read with the GIL held, and the whole worker stops.)
- Chunked bodies: read here like any other (up to one byte over the 64 KiB limit), then handed
  to Django with their length, so the app answers as for a ``Content-Length`` body (413 beyond).
  (granian 2.8.9 also declares ``wsgi.input_terminated``, which BodySizeLimitMiddleware would
  honour; reading here is what lets the watchdog know which requests wait for their client.)
- Answers are handed to granian whole (one piece): a client that does not read its answer holds
  hyper's buffer, never a request thread (granian blocks the thread that iterates a streamed
  answer until the client reads it). The largest answer here is a 1.5 MB static file.
- A request stuck in the application: granian has no worker timeout. A watchdog thread in each
  worker logs the stack of a request that has run longer than ``WEB_TIMEOUT`` and ends the
  worker; granian starts a new one (``respawn_failed_workers``), as gunicorn's ``timeout`` did.
- Header limits: hyper reads request heads up to ``HEAD_BUFFER_BYTES``, so a Clerk token of any
  size up to that reaches the app (which answers 401 in JSON past its 8 KiB cap); beyond it,
  and past hyper's 64 KiB request target, hyper answers 431 / 414 with no body.
- Trusted proxies: granian passes ``X-Forwarded-*`` through untouched and ``REMOTE_ADDR`` is the
  peer; the app decides whom to believe (``FORWARDED_ALLOW_IPS``,
  delight.middleware.ForwardedHeadersMiddleware).
- Worker recycling: a worker above ``WEB_WORKER_MAX_RSS`` MiB, or older than
  ``WEB_WORKER_LIFETIME`` seconds, is replaced gracefully (the new one starts first); a worker
  that dies is replaced.
- Metrics: prometheus-client's multiprocess mode (delight.metrics); this process makes
  ``PROMETHEUS_MULTIPROC_DIR`` (empty) before anything imports the client, and serves the sum
  of every worker's samples on ``METRICS_ADDR:METRICS_PORT``, never on the public port.
- Graceful shutdown: SIGTERM (or SIGINT) stops accepting, lets requests in flight finish, then
  exits; a worker still busy after ``WEB_GRACEFUL_TIMEOUT`` seconds is killed.
- Logs: the app writes one JSON line per request (delight.requestlog); granian's own lines go
  through the same logging configuration (settings.LOGGING), and granian's access log stays off.
- Secrets stay out of requests. granian builds every request's WSGI environ on a copy of the
  process environment (granian/wsgi.py: ``basic_env = dict(os.environ)``), so ``request.META``
  would carry ``DJANGO_SECRET_KEY``, ``DATABASE_URL`` and the rest into anything that prints it
  (Django's error e-mails show META, and their filter misses a password inside a URL); gunicorn
  never put the process environment there. Each worker forgets those variables once the
  settings have read them, before granian makes its copy (``forget_secrets``).
- One server per port: granian's listeners share their port (``SO_REUSEPORT``), so a second
  server started on a port already served would quietly take half of its connections; this
  refuses to start instead.

A variable this reads that makes no sense stops the start with one line, as manage.py does.
"""

from __future__ import annotations

import contextlib
import copy
import errno
import fcntl
import io
import logging
import os
import re
import resource
import shutil
import socket
import struct
import sys
import tempfile
import termios
import threading
import time
import traceback
from dataclasses import dataclass

logger = logging.getLogger("delight.serve")

# The application served: the service's; the browser tests serve theirs, which wraps it
# (tests/browser/wsgi.py), through this variable.
TARGET = os.environ.get("WEB_APPLICATION", "").strip() or "delight.wsgi:application"
# The request head (request line and headers) that hyper reads before the app sees a request
# (a head that arrives in one piece may pass up to twice this: hyper checks between reads).
# A Clerk token is at most 8 KiB (accounts.clerk.MAX_TOKEN_BYTES): any header up to this size
# reaches the app, which answers about it in JSON. The proxy in front allows 4 x 32 KiB header
# buffers (deploy/nginx/delight.conf.template), the same total.
HEAD_BUFFER_BYTES = 128 * 1024
# How often the resource monitor samples the workers' memory (WEB_WORKER_MAX_RSS).
RSS_SAMPLE_SECONDS = 10
# Set in a request's environ when its body did not arrive in time (BodySizeLimitMiddleware: 408).
BODY_TIMEOUT_KEY = "delight.request_body_timeout"

# The gunicorn settings of the previous server, and what replaced each: a deployment that still
# sets one learns it at start, rather than running without the bound it asked for.
_RENAMED = {
    "GUNICORN_TIMEOUT": "is now WEB_TIMEOUT",
    "GUNICORN_CLIENT_TIMEOUT": "is now WEB_CLIENT_TIMEOUT",
    "GUNICORN_MAX_REQUESTS": (
        "is gone: workers are recycled by age (WEB_WORKER_LIFETIME, seconds) or memory "
        "(WEB_WORKER_MAX_RSS, MiB)"
    ),
    "GUNICORN_ACCESS_LOG": "is gone: the app writes one access line per request",
}


class ConfigurationError(Exception):
    """A setting this server cannot use: the message is the one line printed at start."""


@dataclass(frozen=True)
class Config:
    port: int
    workers: int
    threads: int
    request_timeout: int
    client_timeout: int
    graceful_timeout: int
    worker_lifetime: int | None
    worker_max_rss: int | None
    metrics_port: int | None
    metrics_addr: str
    log_level: str

    @classmethod
    def from_environ(cls) -> Config:
        from django.core.exceptions import ImproperlyConfigured

        from delight.env import env_int, env_str

        for old, what in _RENAMED.items():
            if os.environ.get(old, "").strip():
                raise ConfigurationError(f"{old} {what}; unset it.")
        try:
            config = cls(
                port=env_int("PORT", 8000, minimum=1),
                workers=env_int("WEB_CONCURRENCY", _cores(), minimum=1),
                threads=env_int("WEB_THREADS", 2, minimum=1),
                request_timeout=env_int("WEB_TIMEOUT", 30, minimum=1),
                client_timeout=env_int("WEB_CLIENT_TIMEOUT", 10, minimum=1),
                graceful_timeout=env_int("WEB_GRACEFUL_TIMEOUT", 20, minimum=1),
                worker_lifetime=env_int("WEB_WORKER_LIFETIME", 0, minimum=0) or None,
                worker_max_rss=env_int("WEB_WORKER_MAX_RSS", 0, minimum=0) or None,
                metrics_port=env_int("METRICS_PORT", 0, minimum=1) or None,
                metrics_addr=env_str("METRICS_ADDR", "127.0.0.1"),
                log_level=env_str("DJANGO_LOG_LEVEL", "INFO").lower(),
            )
        except ImproperlyConfigured as exc:
            raise ConfigurationError(str(exc)) from None
        # granian's own bounds (its header timeout is in milliseconds, at most a minute).
        for name, value, most in (
            ("PORT", config.port, 65535),
            ("METRICS_PORT", config.metrics_port or 1, 65535),
            ("WEB_CLIENT_TIMEOUT", config.client_timeout, 60),
            ("WEB_GRACEFUL_TIMEOUT", config.graceful_timeout, 1800),
        ):
            if value > most:
                raise ConfigurationError(f"{name} must be at most {most} (got {value}).")
        if config.worker_lifetime is not None and config.worker_lifetime < 60:
            raise ConfigurationError(
                f"WEB_WORKER_LIFETIME must be at least 60 seconds (got {config.worker_lifetime})."
            )
        if config.log_level not in {"critical", "error", "warning", "info", "debug"}:
            raise ConfigurationError(
                f"DJANGO_LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL "
                f"(got {config.log_level.upper()!r})."
            )
        return config


def _cores() -> int:
    """The cores this process may run on (a container's CPU set, not the host's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


# --- In each worker: the application, wrapped --------------------------------------------------


class Application:
    """The WSGI application as granian calls it, with the bounds granian does not have.

    Per request: the body (if any) read here, so that the worker knows which requests wait for
    their client; the answer handed back whole; the request registered for the watchdog
    (``Watchdog``). A request without a body pays a dictionary insertion and removal, and one
    ``b"".join`` of its single piece.
    """

    def __init__(self, app, *, body_limit: int, client_timeout: float):
        self.app = app
        self.body_limit = body_limit
        self.client_timeout = client_timeout
        # thread id -> [started, environ, reading its body since (or None)]
        self.running: dict[int, list] = {}
        self.cut: dict[str, float] = {}  # peer address -> when the watchdog last cut one of its

    def __call__(self, environ, start_response):
        thread = threading.get_ident()
        self.running[thread] = request = [time.monotonic(), environ, None]
        try:
            if "CONTENT_LENGTH" in environ or "HTTP_TRANSFER_ENCODING" in environ:
                self._read_body(environ, request)
            answer = self.app(environ, start_response)
            try:
                return [b"".join(answer)]
            finally:
                close = getattr(answer, "close", None)
                if close is not None:
                    close()  # Django's request_finished (database connections, ...)
        finally:
            del self.running[thread]

    def _read_body(self, environ, request: list) -> None:
        """Reads the body and hands Django a stream of it.

        A ``Content-Length`` body is read whole when it is within the limit (beyond it, the app
        refuses it with 413 without reading); a chunked body up to one byte over the limit, then
        given a length (and no ``Transfer-Encoding``), as a buffering proxy does. granian's read
        has no deadline: the watchdog cuts the connection of a client that stops sending, the
        read then ends short, and the app answers 408."""
        declared = environ.get("CONTENT_LENGTH", "")
        if declared:
            try:
                size = int(declared)
            except ValueError:
                return  # hyper refuses a malformed length before the app is called
            if size <= 0 or size > self.body_limit:
                return
        elif "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            size = self.body_limit + 1
        else:
            return
        request[2] = started = time.monotonic()
        body = environ["wsgi.input"].read(size)
        request[2] = None
        cut = self.cut.get(environ.get("REMOTE_ADDR", ""), 0.0) >= started
        if cut and (not declared or len(body) < size):
            environ[BODY_TIMEOUT_KEY] = self.client_timeout  # the app answers 408
            body = b""
            environ["CONTENT_LENGTH"] = "0"
        elif not declared:  # chunked: framed by its length from here on
            environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        environ["wsgi.input"] = io.BytesIO(body)


class Watchdog:
    """One thread per worker that does what granian does not: it drops clients that go silent,
    and ends the worker when a request is stuck.

    - Clients: every connection to the public port is looked at through the kernel (its
      ``TCP_INFO``). One whose client has stopped sending in the middle of a body (a request
      of that address is reading its body, and nothing came for ``client_timeout``), or has
      stopped taking its answer, is shut down, as gunicorn's socket timeout did; hyper then
      ends the connection (and the body read returns short). Clients that send nothing, stop
      mid-headers or sit idle between requests, hyper drops itself (``http1_header_read_timeout``
      in HTTP/1 mode); one that never spoke is cut here too, should hyper ever keep it.
    - Requests: one running longer than ``request_timeout`` (gunicorn's ``timeout``) cannot be
      interrupted in a Python thread; the watchdog logs its stack and ends the worker, and
      granian starts a new one.
    """

    def __init__(self, application: Application, *, port: int, request_timeout: float):
        self.application = application
        self.port = port
        self.request_timeout = request_timeout
        self.client_timeout_ms = application.client_timeout * 1000
        self.interval = min(1.0, request_timeout / 4, application.client_timeout / 4)
        self.inspect_sockets = sys.platform == "linux"
        self.stopped = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._run, name="delight-watchdog", daemon=True).start()

    def _run(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                self.check()
            except Exception:  # never let the watchdog die
                logger.exception("the watchdog failed; it goes on")

    def check(self) -> None:
        now = time.monotonic()
        busy: set[str] = set()  # addresses with a request past its body
        reading: set[str] = set()  # addresses with a request waiting for its body
        for thread, (started, environ, body_since) in list(self.application.running.items()):
            if now - started > self.request_timeout:
                self._give_up(thread, now - started, environ)
            address = environ.get("REMOTE_ADDR", "")
            if body_since is None:
                busy.add(address)
            elif (now - body_since) * 1000 > self.client_timeout_ms:
                reading.add(address)
        if self.inspect_sockets:
            self.cut_silent_clients(busy, reading)
        cut = self.application.cut  # forget cuts no body read can still be waiting on
        for address, when in list(cut.items()):
            if now - when > self.request_timeout:
                cut.pop(address, None)

    def cut_silent_clients(self, busy: set[str], reading: set[str]) -> list[str]:
        """Shuts down this worker's client connections whose client went silent (noting when,
        by address, in ``Application.cut``); returns their addresses."""
        cut = []
        limit = self.client_timeout_ms
        for name in os.listdir("/proc/self/fd"):
            try:
                if not os.readlink(f"/proc/self/fd/{name}").startswith("socket:"):
                    continue
                sock = socket.socket(fileno=os.dup(int(name)))
            except OSError:  # closed meanwhile
                continue
            with sock:
                try:
                    if (
                        sock.type != socket.SOCK_STREAM
                        or sock.family not in (socket.AF_INET, socket.AF_INET6)
                        or sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
                        or sock.getsockname()[1] != self.port
                    ):
                        continue
                    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
                    if info[0] != _TCP_ESTABLISHED or len(info) < 136:
                        continue
                    silent, unacknowledged = struct.unpack_from("II", info, 52)  # ms
                    (received,) = struct.unpack_from("Q", info, 128)  # bytes
                    waiting = int.from_bytes(
                        fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0"), "little"
                    )
                    address = sock.getpeername()[0]
                    if silent <= limit:
                        continue
                    if (
                        received == 0  # connected, and never said a word
                        or (address in reading and address not in busy)  # stopped mid-body
                        or (waiting and unacknowledged > limit)  # stopped taking its answer
                    ):
                        # Noted first: the body read it ends must see it (408, not 400).
                        self.application.cut[address] = time.monotonic()
                        sock.shutdown(socket.SHUT_RDWR)
                        cut.append(address)
                except OSError:
                    continue
        if cut:
            logger.info(
                "closed %s connection(s) whose client sent nothing for %ss (WEB_CLIENT_TIMEOUT)",
                len(cut),
                self.application.client_timeout,
            )
        return cut

    def _give_up(self, thread: int, seconds: float, environ: dict) -> None:
        frame = sys._current_frames().get(thread)
        stack = "".join(traceback.format_stack(frame)) if frame is not None else ""
        logger.error(
            "a %s request has run %.0f s, longer than WEB_TIMEOUT (%s s): this worker exits and "
            "a new one takes its place",
            environ.get("REQUEST_METHOD", "?"),
            seconds,
            self.request_timeout,
            extra={"stuck_request_id": environ.get("HTTP_X_REQUEST_ID", "-"), "stack": stack},
        )
        for handler in logging.getLogger().handlers:
            with contextlib.suppress(Exception):
                handler.flush()
        os._exit(70)  # EX_SOFTWARE: granian sees an unexpected exit and starts a new worker


_TCP_ESTABLISHED = 1


_exporter = None  # (server, thread) of the metrics exporter, in the main process


def load_application(target: str):
    """Runs in each worker process as it starts (granian's ``target_loader``)."""
    if _exporter is not None:
        _exporter[0].socket.close()  # the main process's listening socket, inherited by the fork
    config = _config or Config.from_environ()  # a spawned (not forked) worker reads it again
    from django.conf import settings
    from django.utils.module_loading import import_string

    application = import_string(target.replace(":", "."))
    wrapped = Application(
        application,
        body_limit=settings.MAX_REQUEST_BODY_BYTES,
        client_timeout=float(config.client_timeout),
    )
    wrapped.watchdog = Watchdog(
        wrapped, port=config.port, request_timeout=float(config.request_timeout)
    )
    wrapped.watchdog.start()
    forget_secrets()  # granian copies the process environment into requests after this returns
    return wrapped


# A variable of the process environment that no request may carry: Django's own pattern for
# settings to hide (django.views.debug.SafeExceptionReporterFilter.hidden_settings), and any URL
# or DSN (either may hold a password). libpq's own variables (PG*) stay: libpq reads them again
# at every new connection.
_SECRET_NAME = re.compile(r"API|TOKEN|KEY|SECRET|PASS|SIGNATURE|URL|DSN", flags=re.IGNORECASE)


def forget_secrets(environ=os.environ) -> list[str]:
    """Take the secrets out of ``environ`` (the process environment): the settings have read
    them when this runs (``load_application``, after the application is imported), and granian
    copies what is left into every request's WSGI environ. Returns the names taken out."""
    names = [name for name in environ if _SECRET_NAME.search(name) and not name.startswith("PG")]
    for name in names:
        del environ[name]
    return names


# --- The main process ----------------------------------------------------------------------------

_config: Config | None = None


def metrics_directory() -> tuple[str, bool]:
    """``PROMETHEUS_MULTIPROC_DIR``, set before anything imports prometheus_client, made when
    missing and emptied of an earlier run's samples; a private temporary directory when unset
    (removed at exit)."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip()
    own = not path
    if own:
        path = tempfile.mkdtemp(prefix="delight-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    os.makedirs(path, exist_ok=True)
    for name in os.listdir(path):
        file = os.path.join(path, name)
        if name.endswith(".db") and os.path.isfile(file):
            os.unlink(file)
    return path, own


def check_port_free(address: str, port: int) -> None:
    """granian's listeners share their port (SO_REUSEPORT): a second server started on a port
    already served would quietly take half of its connections. A plain bind finds out."""
    with socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((address, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ConfigurationError(
                    f"port {port} is already in use (is another server running?)."
                ) from None
            raise ConfigurationError(f"cannot listen on {address}:{port}: {exc}") from None


def raise_open_files_limit() -> None:
    """Each connection is a file descriptor: take the hard limit, as servers do."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def build_server(config: Config, log_config: dict, metrics_dir: str):
    from granian.constants import HTTPModes, Interfaces
    from granian.http import HTTP1Settings
    from granian.log import LogLevels
    from granian.server import Server

    server = Server(
        TARGET,
        address="0.0.0.0",  # noqa: S104 - the container's port; the proxy is the public face
        port=config.port,
        interface=Interfaces.WSGI,
        workers=config.workers,
        blocking_threads=config.threads,
        # Request threads keep their database connection (DJANGO_CONN_MAX_AGE): keep them too.
        blocking_threads_idle_timeout=600,
        http=HTTPModes.http1,  # one set of limits; the proxy speaks HTTP/1.1 to us
        websockets=False,
        http1_settings=HTTP1Settings(
            header_read_timeout=config.client_timeout * 1000,
            keep_alive=True,
            max_buffer_size=HEAD_BUFFER_BYTES,
        ),
        log_enabled=True,
        log_level=LogLevels(config.log_level),
        log_dictconfig=log_config,
        log_access=False,  # the app's own line (delight.requestlog) says more
        respawn_failed_workers=True,
        rss_sample_interval=RSS_SAMPLE_SECONDS,
        workers_lifetime=config.worker_lifetime,
        workers_max_rss=config.worker_max_rss,
        workers_kill_timeout=config.graceful_timeout,
    )
    # A worker that ended (recycled, crashed, stopped) leaves its counters and histograms in
    # the directory (totals must not go backwards); its live gauges go.
    original = server._spawn_worker

    def spawn_worker(*args, **kwargs):
        worker = original(*args, **kwargs)
        watch = worker._watcher

        def watcher():
            watch()
            from delight import metrics

            metrics.mark_process_dead(worker.inner.pid, metrics_dir)

        worker._watcher = watcher
        return worker

    server._spawn_worker = spawn_worker
    return server


def main() -> None:
    global _config, _exporter
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "delight.settings")
    metrics_dir, own_metrics_dir = metrics_directory()  # first: before prometheus_client loads
    from django.core.exceptions import ImproperlyConfigured

    def refuse(reason: str):
        if own_metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)
        sys.exit(f"delight.serve: {reason}")

    try:
        _config = config = Config.from_environ()
        from django.conf import settings

        settings.INSTALLED_APPS  # noqa: B018 - load the settings now, to report a refusal plainly
        check_port_free("0.0.0.0", config.port)  # noqa: S104
    except (ConfigurationError, ImproperlyConfigured) as exc:
        refuse(str(exc))
    raise_open_files_limit()
    if config.metrics_port:
        from delight import metrics

        try:
            _exporter = metrics.start_exporter(
                port=config.metrics_port, addr=config.metrics_addr, multiprocess_dir=metrics_dir
            )
        except OSError as exc:
            refuse(f"metrics on {config.metrics_addr}:{config.metrics_port}: {exc}")
    server = build_server(config, copy.deepcopy(settings.LOGGING), metrics_dir)
    if _exporter is not None:
        logger.info("metrics on %s:%s", config.metrics_addr, config.metrics_port)
    if own_metrics_dir:
        server.on_shutdown(lambda: shutil.rmtree(metrics_dir, ignore_errors=True))
    server.serve(target_loader=load_application)


if __name__ == "__main__":
    main()

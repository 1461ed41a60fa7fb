"""Failover on loopback: the primary dies under load, a synchronous standby is promoted, and the
service carries on against it without a restart and without losing a write it acknowledged.

    python scripts/failover.py [--seconds N] [--clients N] [--kill-mode kill|immediate|freeze]
                               [--url-form multi-host|query] [--keep-sync-names]
                               [--lag SECONDS] [--asynchronous]
                               [--server-command CMD]                          (make failover)

Two PostgreSQL servers of Debian's packages (/usr/lib/postgresql/15/bin, PG_BIN to change), in a
temporary directory, each on a free loopback port, never the server on 127.0.0.1:5432:

- the primary: initdb, `synchronous_commit = on` and `synchronous_standby_names` naming the
  standby (a commit is acknowledged once the standby has flushed its WAL to disk,
  docs/SCALING.md "Failover");
- the standby: `pg_basebackup -R` from the primary (hot_standby), named by its cluster_name
  (which its walreceiver gives as application_name), with an empty
  synchronous_standby_names of its own (--keep-sync-names keeps the primary's: promoted, it
  then waits on every commit for a standby that does not exist); the setup waits until
  pg_stat_replication shows it streaming with sync_state = 'sync'. (--asynchronous: no
  synchronous standby; with --lag 1, the walsender paused for the second before the kill, the
  writes acknowledged in that second are lost, which the proof must report: its self-test.)

The service's database is created on the primary and migrated (through the primary's own
address, as a release job does), then the service starts as production does (DEBUG off, JSON
logs, a generated RS256 key; `python -m delight.serve`; --server-command overrides) with

    DATABASE_URL=postgresql://postgres@127.0.0.1:P1,127.0.0.1:P2/delight?target_session_attrs=read-write

(--url-form query gives the same as ?host=127.0.0.1,127.0.0.1&port=P1,P2&target_session_attrs=...).

Load: --clients threads, each creating goals with unique titles (every other request) and
reading (the list, one of its goals), recording every answer. At 40 % of the run the primary is
killed (--kill-mode: `kill`, the default: every process of the server stopped, then SIGKILLed,
so none runs another instruction; `immediate`: `pg_ctl stop -m immediate`; `freeze`: every
process stopped and left so, a machine that stops answering but keeps its sockets open), 1.5 s
later the standby is promoted (`pg_ctl promote`), and the load goes on. Checks (exit 1 when one
fails):

- every create acknowledged with 201 is in the new primary exactly once, with the id it was
  answered with; nothing answered 4xx is stored; nothing is stored that was never sent;
- no 5xx but 503, and every request got an answer (no reset, no empty reply, no client timeout);
- 503s (each with Retry-After) only between the kill and RECOVERY_SECONDS after the promotion
  (10 s; 13 s with --kill-mode freeze, where every new connection first waits out the silent
  old primary: see the constants);
- every request answered within BOUND_SECONDS (the contract's bound);
- a create started after the promotion is acknowledged within RECOVERY_SECONDS of it;
- the service was not restarted: the same process ids (server and workers) before and after;
- the request id of every answered request is in the service's log.

Everything it starts is stopped at the end (Ctrl-C and failures included), its directory removed.
"""

import argparse
import collections
import contextlib
import dataclasses
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import jwt
import psycopg
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
# Each server's cluster_name: in its processes' titles (postgres: NAME: ...), so the script
# signals only its own processes; the standby's is also the application_name its walreceiver
# gives, which the primary's synchronous_standby_names names.
CLUSTER_NAMES = {"primary": "delight_failover_primary", "standby": "delight_failover_standby"}
STANDBY_NAME = CLUSTER_NAMES["standby"]
# How long the primary stays dead before the standby is promoted: an operator's or a failover
# manager's reaction time, shortened (Patroni's default loop is 10 s; the service's behaviour in
# the gap is the same whatever its length: 503s).
KILL_TO_PROMOTE_SECONDS = 1.5
# The contract: "an API request answers within 10 seconds whatever the database does".
BOUND_SECONDS = 10.0
# After `pg_ctl promote` returns the new primary accepts writes, and a worker's next connection
# finds it: host 1 refuses at once, host 2 takes writes. The contract's "finds out by itself
# within seconds", with room for a request that was waiting on the old primary when it died
# (bounded by BOUND_SECONDS from before the kill, so over before promotion + 8.5 s): 10 s.
RECOVERY_SECONDS = 10.0
# --kill-mode freeze: host 1 no longer refuses, it is silent, so every new connection first
# spends the service's connect_timeout on it (3 s, delight/settings.py) before trying host 2;
# the request that waited on the old primary ends by kill + 10 s, the next one's connection at
# kill + 13 s = promotion + 11.5 s. The recovery allowance grows by that much in this mode.
CONNECT_TIMEOUT_SECONDS = 3.0
# Past the server's own 30 s request bound (WEB_TIMEOUT), so a request cut for hanging shows as
# what it is.
CLIENT_TIMEOUT_SECONDS = 40.0
WEB_WORKERS = 2


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def process_tree(pid: int) -> set[int]:
    """``pid`` and all its descendants, from /proc."""
    children = collections.defaultdict(set)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                stat = (entry / "stat").read_text()
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                children[ppid].add(int(entry.name))
    tree, todo = set(), [pid]
    while todo:
        current = todo.pop()
        if current not in tree and Path(f"/proc/{current}").exists():
            tree.add(current)
            todo.extend(children[current])
    return tree


def settled_tree(pid: int, seconds: float = 30) -> set[int]:
    """The service's processes once every worker has started: the same set two seconds apart."""
    deadline = time.monotonic() + seconds
    tree = process_tree(pid)
    while time.monotonic() < deadline:
        time.sleep(1)
        again = process_tree(pid)
        if again == tree:
            time.sleep(1)
            if process_tree(pid) == tree:
                return tree
        tree = again
    return tree


def signal_each(pids: set[int], sig: int, titles: tuple[str, ...]) -> None:
    """``sig`` to each process still running whose command line holds one of ``titles`` (never
    to a process that took the id of one gone)."""
    for pid in pids:
        with contextlib.suppress(OSError):
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            if any(title in command for title in titles):
                os.kill(pid, sig)


class Cluster:
    """The two PostgreSQL servers and the service; each process in its own group."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.processes: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}
        self.ports = {"primary": free_port(), "standby": free_port()}
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        # initdb and postgres refuse to run as root: then as Debian's postgres user.
        self.pg_user = "postgres" if os.geteuid() == 0 else None
        if self.pg_user:
            shutil.chown(workdir, self.pg_user)
        self.held: dict[str, set[int]] = {}  # processes of a server stopped by SIGSTOP
        self.asynchronous = False  # --asynchronous: no synchronous standby
        self.lag = 0.0  # --lag: the primary's walsender paused this long before the kill

    # --- processes -------------------------------------------------------------------------

    def start(self, name: str, argv: list[str], env: dict | None = None, user=None) -> None:
        log = self.workdir / f"{name}.log"
        self.logs[name] = log
        with log.open("wb") as out:
            self.processes[name] = subprocess.Popen(
                argv,
                cwd=ROOT if user is None else self.workdir,
                env=env or os.environ.copy(),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                user=user,
            )

    def stop(self, name: str) -> None:
        """The service: SIGTERM to its group. PostgreSQL: a fast shutdown (SIGINT), or SIGKILL
        to each of its processes when some were stopped (frozen, a paused walsender); SIGKILL
        after 30 s. Then any process of the server still running is killed (its children are
        not in its process group: see kill_primary)."""
        process = self.processes[name]
        server = name in self.ports
        everyone = process_tree(process.pid) | self.held.get(name, set())
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                if not server:
                    os.killpg(process.pid, signal.SIGTERM)
                elif self.held.get(name):
                    signal_each(everyone, signal.SIGKILL, self.title(name))
                else:
                    os.kill(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if server:  # children left behind by a killed postmaster, or by a timeout
            signal_each(everyone, signal.SIGKILL, self.title(name))

    def title(self, name: str) -> tuple[str, ...]:
        """What the command lines of a server's processes hold: the postmaster's its data
        directory, every other's ``postgres: CLUSTER_NAME:``."""
        return (f"-D {self.workdir / name}", f"postgres: {CLUSTER_NAMES[name]}:")

    def stop_all(self) -> None:
        for name in reversed(list(self.processes)):
            self.stop(name)

    def pg(self, tool: str, *args: str) -> None:
        result = subprocess.run(
            [str(PG_BIN / tool), *args],
            cwd=self.workdir,
            user=self.pg_user,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode:
            raise SystemExit(f"{tool} {' '.join(args)} failed:\n{result.stdout}{result.stderr}")

    # --- PostgreSQL ------------------------------------------------------------------------

    def url(self, name: str, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.ports[name]}/{database}"

    def start_postgres(self, name: str) -> None:
        self.start(
            name, [str(PG_BIN / "postgres"), "-D", str(self.workdir / name)], user=self.pg_user
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.processes[name].poll() is not None:
                raise SystemExit(f"{name} exited:\n{self.logs[name].read_text()[-3000:]}")
            with (
                contextlib.suppress(psycopg.Error),
                psycopg.connect(self.url(name), connect_timeout=2),
            ):
                return
            time.sleep(0.2)
        raise SystemExit(f"{name} does not answer:\n{self.logs[name].read_text()[-3000:]}")

    def start_primary(self) -> None:
        data = self.workdir / "primary"
        self.pg("initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": self.ports["primary"],
            "unix_socket_directories": f"'{self.workdir}'",
            "wal_level": "replica",
            "max_wal_senders": 4,
            "hot_standby": "on",
            # A commit returns once the standby has flushed its WAL (docs/SCALING.md).
            "synchronous_standby_names": "''" if self.asynchronous else f"'{STANDBY_NAME}'",
            "synchronous_commit": "on",
            "cluster_name": f"'{CLUSTER_NAMES['primary']}'",
            "max_connections": 50,
            "shared_buffers": "'32MB'",
            "log_line_prefix": "'%m [%p] '",
        }
        with (data / "postgresql.conf").open("a") as conf:
            conf.write("".join(f"{key} = {value}\n" for key, value in settings.items()))
        self.start_postgres("primary")

    def start_standby(self, keep_sync_names: bool) -> None:
        data = self.workdir / "standby"
        self.pg(
            "pg_basebackup",
            *("-h", "127.0.0.1", "-p", str(self.ports["primary"]), "-U", "postgres"),
            *("-D", str(data), "-R", "-X", "stream", "--checkpoint=fast"),
        )
        settings = {
            "port": self.ports["standby"],
            # The walreceiver's application_name, which synchronous_standby_names names.
            "cluster_name": f"'{STANDBY_NAME}'",
        }
        if not keep_sync_names:
            # The copy of the primary's configuration would make the promoted server wait for a
            # synchronous standby that no longer exists: every commit would wait. Promoted, it
            # runs alone until a new standby is attached (docs/SCALING.md "Failover").
            settings["synchronous_standby_names"] = "''"
        with (data / "postgresql.conf").open("a") as conf:
            conf.write("".join(f"{key} = {value}\n" for key, value in settings.items()))
        self.start_postgres("standby")

    def wait_synchronous(self) -> tuple:
        deadline = time.monotonic() + 60
        row = None
        while time.monotonic() < deadline:
            with psycopg.connect(self.url("primary")) as conn:
                row = conn.execute(
                    "SELECT application_name, state, sync_state FROM pg_stat_replication"
                ).fetchone()
            if row and row[1:] == ("streaming", "async" if self.asynchronous else "sync"):
                return row
            time.sleep(0.2)
        raise SystemExit(f"the standby never became a synchronous one: {row}")

    def pause_walsender(self) -> None:
        """SIGSTOP to the primary's walsender: WAL stops reaching the standby."""
        with psycopg.connect(self.url("primary")) as conn:
            (pid,) = conn.execute("SELECT pid FROM pg_stat_replication").fetchone()
        self.held.setdefault("primary", set()).add(pid)
        os.kill(pid, signal.SIGSTOP)

    def kill_primary(self, mode: str) -> None:
        """PostgreSQL makes each of its children the leader of a session of its own (setsid), so
        a signal to the postmaster's process group reaches the postmaster alone: its backends
        would go on serving (frozen) or die on their own, telling their clients (killed). Here
        the postmaster is stopped first (no new child), then every child, then (kill) each one
        is killed: none runs another instruction."""
        postmaster = self.processes["primary"].pid
        if mode == "immediate":
            self.pg("pg_ctl", "stop", "-m", "immediate", "-D", str(self.workdir / "primary"))
            self.processes["primary"].wait()
            return
        os.kill(postmaster, signal.SIGSTOP)
        everyone = process_tree(postmaster)
        self.held.setdefault("primary", set()).update(everyone)
        signal_each(everyone, signal.SIGSTOP, self.title("primary"))
        if mode == "kill":
            signal_each(everyone, signal.SIGKILL, self.title("primary"))
            self.processes["primary"].wait()

    def promote(self) -> None:
        self.pg("pg_ctl", "promote", "-w", "-t", "60", "-D", str(self.workdir / "standby"))

    # --- the service -----------------------------------------------------------------------

    def service_env(self, database_url: str) -> dict:
        public_pem = (
            self.key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
        metrics_dir = self.workdir / "metrics"
        metrics_dir.mkdir(exist_ok=True)
        env = {
            **os.environ,
            "PATH": f"{BIN}:{os.environ['PATH']}",
            "DJANGO_SETTINGS_MODULE": "delight.settings",
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "CLERK_JWT_KEY": public_pem,
            "DATABASE_URL": database_url,
            "DJANGO_LOG_FORMAT": "json",
            "WEB_CONCURRENCY": str(WEB_WORKERS),
            "RATE_LIMIT_USER_PER_MINUTE": "100000000",
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        for name in (
            "CLERK_JWKS_URL",
            "CLERK_ISSUER",
            "CLERK_AUTHORIZED_PARTIES",
            "REDIS_URL",
            "SENTRY_DSN",
            "MIGRATE_DATABASE_URL",
            "DJANGO_LOG_LEVEL",
        ):
            env.pop(name, None)
        return env

    def migrate(self, env: dict) -> None:
        """Through the primary's own address (a release job's MIGRATE_DATABASE_URL)."""
        env = {**env, "DATABASE_URL": self.url("primary", "delight")}
        result = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode:
            raise SystemExit(f"migrate failed:\n{result.stdout}{result.stderr}")

    def start_service(self, command: str, env: dict) -> int:
        port = free_port()
        argv = [part.format(port=port) for part in shlex.split(command)]
        self.start("service", argv, {**env, "PORT": str(port)})
        return port

    def token(self, sub: str) -> str:
        claims = {"sub": sub, "sid": f"sess_{sub}", "exp": int(time.time()) + 3600}
        return jwt.encode(claims, self.key, algorithm="RS256")


def default_server_command() -> str:
    return f"{sys.executable} -m delight.serve"


def database_url(cluster: Cluster, form: str) -> str:
    p1, p2 = cluster.ports["primary"], cluster.ports["standby"]
    if form == "query":
        return (
            "postgresql://postgres@/delight?host=127.0.0.1,127.0.0.1"
            f"&port={p1},{p2}&target_session_attrs=read-write"
        )
    return f"postgresql://postgres@127.0.0.1:{p1},127.0.0.1:{p2}/delight?target_session_attrs=read-write"


def tail(log: Path, lines: int = 6) -> str:
    """What a log last said, cut to 240 characters a line: the plain lines (what the program
    printed as its reason, a traceback's last line) when there are, else the last lines."""
    text = log.read_text(errors="replace").splitlines()
    plain = [line for line in text if line and not line.startswith(("{", " ", "Traceback"))]
    last = (plain or text)[-lines:]
    return "\n".join(f"      | {line[:240]}" for line in last)


def wait_until_ready(base: str, cluster: Cluster) -> str | None:
    """None once /readyz answers 200; else why not, with the service's last lines."""
    process, log = cluster.processes["service"], cluster.logs["service"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return f"it exited with {process.returncode}:\n{tail(log)}"
        with contextlib.suppress(requests.RequestException):
            if requests.get(f"{base}/readyz", timeout=5).status_code == 200:
                return None
        time.sleep(0.3)
    return f"/readyz never answered 200:\n{tail(log)}"


class Checks:
    def __init__(self):
        self.failures: list[str] = []

    def expect(self, condition: bool, what: str) -> None:
        print(f"  {'ok  ' if condition else 'FAIL'} {what}")
        if not condition:
            self.failures.append(what)


@dataclasses.dataclass(eq=False)
class Answer:
    """One request: ``status`` is the HTTP status, or the exception's name when none came."""

    kind: str
    start: float
    end: float
    status: int | str
    title: str | None
    goal_id: str | None
    request_id: str
    retry_after: str | None
    detail: str


def drive(base: str, cluster: Cluster, clients: int, seconds: float, kill_mode: str) -> dict:
    """Client threads creating and reading goals; the primary killed at 40 %, then promoted.
    With --lag, WAL stops reaching the standby that long before the kill (a standby behind)."""
    run = uuid.uuid4().hex[:8]
    answers: list[Answer] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client(number: int) -> None:
        sub = f"user_failover_{run}_{number}"
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {cluster.token(sub)}"
        mine: list[str] = []
        sent = 0
        while not stop.is_set():
            sent += 1
            kind = ("list", "create", "detail", "create")[sent % 4] if mine else "create"
            title = f"failover {run} client {number} goal {sent}" if kind == "create" else None
            request_id = f"failover-{run}-{number}-{sent}"
            headers = {"X-Request-ID": request_id}
            goal_id, retry_after, detail = None, None, ""
            start = time.monotonic()
            try:
                if kind == "create":
                    body = {"title": title, "goal_type": "concrete", "value_category": "craft"}
                    response = session.post(
                        f"{base}/api/v1/goals",
                        json=body,
                        headers=headers,
                        timeout=CLIENT_TIMEOUT_SECONDS,
                    )
                    if response.status_code == 201:
                        goal_id = response.json()["id"]
                        mine.append(goal_id)
                elif kind == "list":
                    response = session.get(
                        f"{base}/api/v1/goals", headers=headers, timeout=CLIENT_TIMEOUT_SECONDS
                    )
                else:
                    response = session.get(
                        f"{base}/api/v1/goals/{mine[-1]}",
                        headers=headers,
                        timeout=CLIENT_TIMEOUT_SECONDS,
                    )
                status = response.status_code
                retry_after = response.headers.get("Retry-After")
                if status >= 500:
                    detail = f"{response.headers.get('Content-Type')} {response.text[:100]!r}"
            except requests.RequestException as exc:
                status = type(exc).__name__
                detail = str(exc)[:160]
            end = time.monotonic()
            answer = Answer(
                kind, start, end, status, title, goal_id, request_id, retry_after, detail
            )
            with lock:
                answers.append(answer)
            if status != 201 and status != 200:
                time.sleep(0.1)  # a client backing off a little, not hammering a broken service

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    started = time.monotonic()
    try:
        for thread in threads:
            thread.start()
        time.sleep(max(0.0, seconds * 0.4 - cluster.lag))
        if cluster.lag:
            cluster.pause_walsender()
            time.sleep(cluster.lag)
        killed_at = time.monotonic()
        cluster.kill_primary(kill_mode)
        time.sleep(KILL_TO_PROMOTE_SECONDS)
        promote_started = time.monotonic()
        cluster.promote()
        promoted_at = time.monotonic()
        time.sleep(max(0.0, started + seconds - time.monotonic()))
    finally:
        stop.set()  # also on Ctrl-C: no new requests while everything stops
    for thread in threads:
        thread.join(timeout=CLIENT_TIMEOUT_SECONDS + 5)
    return {
        "answers": list(answers),
        "run": run,
        "started": started,
        "killed_at": killed_at,
        "promote_started": promote_started,
        "promoted_at": promoted_at,
        "ended": time.monotonic(),
        "stuck": sum(thread.is_alive() for thread in threads),
        "recovery": RECOVERY_SECONDS + (CONNECT_TIMEOUT_SECONDS if kill_mode == "freeze" else 0),
    }


def check_run(outcome: dict, cluster: Cluster, checks: Checks, pids: tuple) -> None:
    answers: list[Answer] = outcome["answers"]
    t0, killed, promoted = outcome["started"], outcome["killed_at"], outcome["promoted_at"]
    recovery = outcome["recovery"]
    window_end = promoted + recovery
    at = lambda t: t - t0  # noqa: E731 - seconds since the load started

    statuses = collections.Counter(str(a.status) for a in answers)
    unanswered = [a for a in answers if not isinstance(a.status, int)]
    server_errors = [a for a in answers if isinstance(a.status, int) and a.status >= 500]
    not_503 = [a for a in server_errors if a.status != 503]
    in_window = lambda a: a.end >= killed and a.start <= window_end  # noqa: E731
    late_503 = [a for a in server_errors if a.status == 503 and not in_window(a)]
    no_retry_after = [a for a in server_errors if a.status == 503 and not a.retry_after]
    slow = [a for a in answers if a.end - a.start > BOUND_SECONDS]
    creates_after = sorted(
        (a for a in answers if a.kind == "create" and a.start >= promoted and a.status == 201),
        key=lambda a: a.end,
    )
    first_success = creates_after[0].end - promoted if creates_after else None

    # The numbers.
    kinds = collections.Counter(a.kind for a in answers)
    window = [a for a in answers if in_window(a)]
    unavailable = [a for a in window if a.status == 503]
    span = (
        f" (answered from kill {min(a.end for a in unavailable) - killed:+.2f} s "
        f"to promotion {max(a.end for a in unavailable) - promoted:+.2f} s)"
        if unavailable
        else ""
    )
    print("\n  what happened (seconds from the start of the load)")
    rows = [
        ("load", f"{at(outcome['ended']):.1f} s, {len(answers)} requests, {dict(kinds)}"),
        ("statuses", ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items()))),
        ("primary killed", f"at {at(killed):.1f} s"),
        (
            "standby promoted",
            f"pg_ctl promote at {at(outcome['promote_started']):.1f} s, "
            f"done at {at(promoted):.1f} s",
        ),
        (
            "window",
            f"kill to promotion + {recovery:.0f} s: {len(window)} requests, "
            f"{len(unavailable)} answered 503{span}, "
            f"{sum(a.status in (200, 201) for a in window)} served",
        ),
        (
            "first create after promotion",
            "none" if first_success is None else f"acknowledged {first_success:.2f} s after it",
        ),
        (
            "slowest answer",
            f"{max((a.end - a.start for a in answers), default=0):.2f} s "
            f"({len(slow)} over {BOUND_SECONDS:.0f} s)",
        ),
    ]
    if outcome["stuck"]:
        rows.append(("clients still waiting", f"{outcome['stuck']} at the end"))
    for name, value in rows:
        print(f"  {name:<30} {value}")
    failed = {id(a): a for a in unanswered + not_503 + late_503 + slow}.values()
    for answer in sorted(failed, key=lambda a: a.start)[:10]:
        print(
            f"    {answer.kind} at {at(answer.start):.2f}-{at(answer.end):.2f} s: "
            f"{answer.status} {answer.detail or ''}"
        )
    print()

    # The verdict.
    checks.expect(bool(answers), f"the load ran ({len(answers)} requests)")
    checks.expect(
        not unanswered,
        f"every request got an answer: {len(unanswered)} without one "
        f"({dict(collections.Counter(a.status for a in unanswered))})",
    )
    checks.expect(
        not not_503,
        f"no 5xx but 503: {len(not_503)} ({dict(collections.Counter(a.status for a in not_503))})",
    )
    checks.expect(
        not late_503,
        f"503s only between the kill and {recovery:.0f} s after the promotion: "
        f"{len(late_503)} outside",
    )
    checks.expect(not no_retry_after, f"every 503 carries Retry-After: {len(no_retry_after)} not")
    checks.expect(
        not slow and not outcome["stuck"],
        f"every request answered within {BOUND_SECONDS:.0f} s: {len(slow)} slower"
        + (f", {outcome['stuck']} clients still waiting at the end" if outcome["stuck"] else ""),
    )
    checks.expect(
        first_success is not None and first_success <= recovery,
        f"creates served again within {recovery:.0f} s of the promotion: "
        + ("never" if first_success is None else f"{first_success:.2f} s"),
    )

    # No acknowledged write lost: the new primary holds every 201, once, with its id.
    with psycopg.connect(cluster.url("standby", "delight"), connect_timeout=5) as conn:
        in_recovery = conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]
        rows = conn.execute(
            "SELECT title, id::text FROM goals WHERE title LIKE %s",
            [f"failover {outcome['run']} %"],
        ).fetchall()
    checks.expect(not in_recovery, "the standby is the primary now (pg_is_in_recovery() false)")
    stored = collections.defaultdict(list)
    for title, goal_id in rows:
        stored[title].append(goal_id)
    creates = [a for a in answers if a.kind == "create"]
    acknowledged = [a for a in creates if a.status == 201]
    lost = [a for a in acknowledged if stored.get(a.title) != [a.goal_id]]
    twice = [title for title, ids in stored.items() if len(ids) > 1]
    refused_but_stored = [
        a
        for a in creates
        if isinstance(a.status, int) and 400 <= a.status < 500 and a.title in stored
    ]
    ambiguous = [a for a in creates if not isinstance(a.status, int) or a.status >= 500]
    sent = {a.title for a in creates}
    never_sent = [title for title in stored if title not in sent]
    checks.expect(
        bool(acknowledged) and not lost and not twice and not never_sent,
        f"every acknowledged create is in the new primary exactly once: {len(acknowledged)} "
        f"acknowledged, {len(rows)} stored, lost {len(lost)}, twice {len(twice)}, "
        f"never sent {len(never_sent)}",
    )
    checks.expect(
        not refused_but_stored,
        f"no create answered 4xx is stored: {len(refused_but_stored)}",
    )
    print(
        f"       (creates answered 5xx or not at all: {len(ambiguous)}, of which stored "
        f"{sum(a.title in stored for a in ambiguous)}: a commit the client could not learn of)"
    )

    # Not restarted: the same processes.
    before, after = pids
    checks.expect(
        before == after and cluster.processes["service"].poll() is None,
        f"the service was not restarted: the same {len(before)} process ids before and after"
        + (
            ""
            if before == after
            else f" (gone {sorted(before - after)}, new {sorted(after - before)})"
        ),
    )

    # Request ids in the service's log.
    log = cluster.logs["service"].read_text(errors="replace")
    logged = set(re.findall(rf"failover-{outcome['run']}-\d+-\d+", log))
    answered = {a.request_id for a in answers if isinstance(a.status, int)}
    missing = answered - logged
    checks.expect(
        bool(answered) and not missing,
        f"the service logged the request id of every answered request: {len(answered - missing)}"
        f" of {len(answered)}",
    )


def record(outcome: dict, path: Path) -> None:
    """Every answer as a JSON line, times in seconds from the start of the load; the events first."""
    t0 = outcome["started"]
    events = {name: round(outcome[name] - t0, 3) for name in ("killed_at", "promoted_at")}
    with path.open("w") as out:
        out.write(json.dumps({"events": events}) + "\n")
        for answer in sorted(outcome["answers"], key=lambda a: a.start):
            line = dataclasses.asdict(answer)
            line["start"], line["end"] = round(answer.start - t0, 3), round(answer.end - t0, 3)
            out.write(json.dumps(line) + "\n")
    print(f"failover: every answer in {path}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="the load's length (30)")
    parser.add_argument("--clients", type=int, default=6, help="client threads (6)")
    parser.add_argument(
        "--kill-mode",
        choices=("kill", "immediate", "freeze"),
        default="kill",
        help="SIGKILL the primary's process group (default), pg_ctl stop -m immediate, "
        "or SIGSTOP it (a machine that stops answering but keeps its sockets open)",
    )
    parser.add_argument(
        "--url-form",
        choices=("multi-host", "query"),
        default="multi-host",
        help="DATABASE_URL as postgresql://u@h1:p1,h2:p2/db (default) or ?host=h1,h2&port=p1,p2",
    )
    parser.add_argument(
        "--server-command",
        default=None,
        help="how the service starts; {port} is replaced, PORT is set "
        "(default: python -m delight.serve)",
    )
    parser.add_argument(
        "--keep-sync-names",
        action="store_true",
        help="leave the standby the primary's synchronous_standby_names (what pg_basebackup "
        "copies): promoted, every commit waits for a standby that does not exist",
    )
    parser.add_argument(
        "--lag",
        type=float,
        default=0.0,
        help="pause the primary's walsender this many seconds before the kill, a standby that "
        "far behind (synchronous: the commits wait, none is acknowledged)",
    )
    parser.add_argument(
        "--asynchronous",
        action="store_true",
        help="no synchronous standby: with --lag 1 the writes acknowledged in that second are "
        "lost, and the proof must say so (the self-test of its lost-write check)",
    )
    parser.add_argument(
        "--record",
        type=Path,
        default=None,
        help="write every answer to this file, one JSON line each (seconds from the load's start)",
    )
    args = parser.parse_args()
    if args.lag and args.kill_mode == "immediate":
        parser.error("--lag pauses the walsender, which pg_ctl stop -m immediate would wait for")
    if not (PG_BIN / "postgres").exists():
        raise SystemExit(f"no PostgreSQL binaries in {PG_BIN} (apt-get install postgresql-15)")
    command = args.server_command or default_server_command()

    workdir = Path(tempfile.mkdtemp(prefix="delight-failover-"))
    cluster = Cluster(workdir)
    checks = Checks()
    previous_sigterm = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop everything on SIGTERM too
    began = time.monotonic()
    try:
        cluster.asynchronous, cluster.lag = args.asynchronous, args.lag
        cluster.start_primary()
        cluster.start_standby(args.keep_sync_names)
        name, state, sync = cluster.wait_synchronous()
        print(
            f"failover: primary 127.0.0.1:{cluster.ports['primary']}, standby "
            f"127.0.0.1:{cluster.ports['standby']} ({name}: {state}, {sync})"
            + ("; asynchronous replication" if args.asynchronous else ", synchronous_commit = on")
            + (f"; the walsender paused {args.lag:g} s before the kill" if args.lag else "")
        )
        with psycopg.connect(cluster.url("primary"), autocommit=True) as conn:
            conn.execute("CREATE DATABASE delight")
        url = database_url(cluster, args.url_form)
        env = cluster.service_env(url)
        cluster.migrate(env)
        port = cluster.start_service(command, env)
        base = f"http://127.0.0.1:{port}"
        print(f"failover: {command.format(port=port)}\nfailover: DATABASE_URL={url}")
        problem = wait_until_ready(base, cluster)
        checks.expect(
            problem is None,
            "the service starts with this DATABASE_URL" + (f": {problem}" if problem else ""),
        )
        if problem is None:
            before = settled_tree(cluster.processes["service"].pid)
            print(
                f"failover: {base}, {len(before)} processes; load for {args.seconds:.0f} s with "
                f"{args.clients} clients, primary killed ({args.kill_mode}) at 40 %"
            )
            outcome = drive(base, cluster, args.clients, args.seconds, args.kill_mode)
            after = process_tree(cluster.processes["service"].pid)
            check_run(outcome, cluster, checks, (before, after))
            if args.record:
                record(outcome, args.record)
    except KeyboardInterrupt:
        print("failover: interrupted; stopping everything it started")
        checks.failures.append("interrupted")
    finally:
        cluster.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)
        signal.signal(signal.SIGTERM, previous_sigterm)
    took = time.monotonic() - began
    if checks.failures:
        print(f"failover: {len(checks.failures)} check(s) failed ({took:.0f} s)")
        return 1
    print(f"failover: all checks passed ({took:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The production topology on loopback, without Docker: nginx -> two instances of the service
(python -m delight.serve) -> PgBouncer -> PostgreSQL, with Redis for the shared rate limits; load,
a crash, and checks.

    python scripts/topology.py [--seconds N] [--clients N]        (make topology; CI runs it)

The same shape as docker-compose.yml, from Debian's packages (nginx, pgbouncer: `make topology`
installs them when missing), the same files (deploy/nginx/delight.conf.template rendered with
loopback addresses, deploy/pgbouncer/pgbouncer.ini's pool settings, docker/entrypoint.sh and
the image's command, python -m delight.serve), PostgreSQL on 127.0.0.1:5432 (trust, user
postgres, a database of its own) and Redis on 127.0.0.1:6379 (database 13, flushed first).

1. Both instances start together through the entry point, so both run `migrate` at once on the
   empty database (one applies, the other waits for the advisory lock).
2. Checks through nginx: a chunked POST is stored, a body over 64 KiB is nginx's JSON 413, a
   valid 8 KiB token reaches the app, PgBouncer's server connections carry the service's lock,
   statement and idle-in-transaction timeouts (the ini's connect_query) and a PATCH of a row
   locked in PostgreSQL is a JSON 503 within the 10 s bound, and the per-address rate limit is one count for both
   instances (Redis): exactly RATE_LIMIT_ANON_PER_MINUTE 401s, then 429s, with both instances
   answering.
3. Load: client threads create, list, read and patch goals through nginx for --seconds; at 40 %
   instance A is killed (SIGKILL: a crash). Then:
   - every create acknowledged with 201 is stored exactly once, with its owner;
   - no request got a 5xx outside the failover window (kill + 2 s), and those inside are counted;
   - requests were served by both instances before the crash and by B after it;
   - the request ids sent appear in both instances' JSON logs (every line of which is JSON) and
     in nginx's.
Prints the numbers and exits 1 if any check fails. Every process it started is stopped, the
database dropped, the temporary directory removed.
"""

import argparse
import collections
import configparser
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import jwt
import psycopg
import redis
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
POSTGRES = "postgresql://postgres@127.0.0.1:5432"
REDIS_URL = "redis://127.0.0.1:6379/13"
ANON_LIMIT = 12
FAILOVER_WINDOW_SECONDS = 2.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Topology:
    """Starts and stops everything; each process in its own group, stopped by its id."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.processes: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}
        self.database = f"delight_topology_{uuid.uuid4().hex[:8]}"
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def start(self, name: str, argv: list[str], env: dict | None = None) -> None:
        log = self.workdir / f"{name}.log"
        self.logs[name] = log
        with log.open("wb") as out:
            self.processes[name] = subprocess.Popen(
                argv,
                cwd=ROOT,
                env=env or os.environ.copy(),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def kill(self, name: str, sig=signal.SIGTERM) -> None:
        process = self.processes[name]
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def stop_all(self) -> None:
        for name in reversed(list(self.processes)):
            self.kill(name)

    # --- the pieces --------------------------------------------------------------------------

    def create_database(self) -> None:
        with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.database}"')

    def drop_database(self) -> None:
        with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')

    def start_pgbouncer(self) -> int:
        """deploy/pgbouncer/pgbouncer.ini's pool settings; loopback addresses, trust auth."""
        port = free_port()
        config = configparser.ConfigParser()
        config.read(ROOT / "deploy/pgbouncer/pgbouncer.ini")
        settings = dict(config["pgbouncer"])
        if pgbouncer_version() < (1, 21):  # no prepared-statement tracking before 1.21
            settings.pop("max_prepared_statements", None)
        userlist = self.workdir / "userlist.txt"
        userlist.write_text('"postgres" ""\n')
        settings.update(
            listen_addr="127.0.0.1",
            listen_port=str(port),
            unix_socket_dir="",
            auth_type="trust",
            auth_file=str(userlist),
            admin_users="postgres",
            stats_users="postgres",
        )
        ini = self.workdir / "pgbouncer.ini"
        # The service's bounds on every server connection: the ini's own connect_query.
        connect_query = re.search(r"connect_query='[^']*'", config["databases"]["delight"])
        entry = f"delight = host=127.0.0.1 port=5432 dbname={self.database}"
        lines = ["[databases]", f"{entry} {connect_query[0] if connect_query else ''}"]
        lines += ["[pgbouncer]", *(f"{key} = {value}" for key, value in settings.items())]
        ini.write_text("\n".join(lines) + "\n")
        # PgBouncer refuses to run as root: -u drops to Debian's postgres user.
        user = ["-u", "postgres"] if os.geteuid() == 0 else []
        self.start("pgbouncer", ["pgbouncer", *user, str(ini)])
        wait_for_port(port, self.processes["pgbouncer"], self.logs["pgbouncer"])
        return port

    def web_env(self, pgbouncer_port: int) -> dict:
        public_pem = (
            self.key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
        env = {
            **os.environ,
            "PATH": f"{BIN}:{os.environ['PATH']}",
            "DJANGO_SETTINGS_MODULE": "delight.settings",
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "CLERK_JWT_KEY": public_pem,
            "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{pgbouncer_port}/delight",
            "MIGRATE_DATABASE_URL": f"{POSTGRES}/{self.database}",
            # Debian 12's PgBouncer is 1.18: no prepared statements in transaction mode.
            "DATABASE_PREPARED_STATEMENTS": "0",
            "DATABASE_TRANSACTION_POOLING": "1",
            "REDIS_URL": REDIS_URL,
            "DJANGO_BEHIND_PROXY": "1",
            "FORWARDED_ALLOW_IPS": "127.0.0.1",
            "DJANGO_LOG_FORMAT": "json",
            "WEB_CONCURRENCY": "2",
            "RATE_LIMIT_USER_PER_MINUTE": "100000",
            "RATE_LIMIT_ANON_PER_MINUTE": str(ANON_LIMIT),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        for name in ("CLERK_JWKS_URL", "CLERK_ISSUER", "CLERK_AUTHORIZED_PARTIES", "SENTRY_DSN"):
            env.pop(name, None)
        return env

    def start_web(self, name: str, env: dict) -> int:
        port = free_port()
        metrics_dir = self.workdir / f"{name}-metrics"  # removed with the workdir, crash or not
        metrics_dir.mkdir()
        env = {**env, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
        # The container's entry point and command (Dockerfile), on its own port.
        self.start(
            name,
            [str(ROOT / "docker/entrypoint.sh"), str(BIN / "python"), "-m", "delight.serve"],
            {**env, "PORT": str(port)},
        )
        return port

    def start_nginx(self, upstream_ports: list[int]) -> int:
        port = free_port()
        for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.workdir / name).mkdir(mode=0o777)
            (self.workdir / name).chmod(0o777)  # nginx's workers run as www-data
        servers = " ".join(
            f"server 127.0.0.1:{p} max_fails=1 fail_timeout=10s;" for p in upstream_ports
        )
        template = string.Template((ROOT / "deploy/nginx/delight.conf.template").read_text())
        site = template.safe_substitute(
            DELIGHT_UPSTREAM_SERVERS=servers,
            DELIGHT_LISTEN=f"127.0.0.1:{port}",
            DELIGHT_ACCESS_LOG=str(self.workdir / "nginx-access.log"),
            DELIGHT_FORWARDED_PROTO="$scheme",
        )
        (self.workdir / "delight.conf").write_text(site)
        w = self.workdir
        (w / "nginx.conf").write_text(
            f"worker_processes 1;\npid {w}/nginx.pid;\nerror_log {w}/nginx-error.log warn;\n"
            "daemon off;\nevents { worker_connections 512; }\nhttp {\n"
            f"  client_body_temp_path {w}/body;\n  proxy_temp_path {w}/proxy;\n"
            f"  fastcgi_temp_path {w}/fastcgi;\n  uwsgi_temp_path {w}/uwsgi;\n"
            f"  scgi_temp_path {w}/scgi;\n  include {w}/delight.conf;\n}}\n"
        )
        self.workdir.chmod(0o755)
        self.start("nginx", ["nginx", "-p", str(w), "-c", str(w / "nginx.conf")])
        wait_for_port(port, self.processes["nginx"], self.logs["nginx"])
        return port

    def token(self, sub: str) -> str:
        claims = {"sub": sub, "sid": f"sess_{sub}", "exp": int(time.time()) + 3600}
        return jwt.encode(claims, self.key, algorithm="RS256")


def pgbouncer_version() -> tuple[int, ...]:
    out = subprocess.run(["pgbouncer", "--version"], capture_output=True, text=True, check=True)
    return tuple(int(part) for part in re.search(r"(\d+)\.(\d+)", out.stdout).groups())


def wait_for_port(port: int, process: subprocess.Popen, log: Path, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"exited before listening on {port}:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    raise SystemExit(f"nothing listens on {port}:\n{log.read_text()[-3000:]}")


def wait_until_ready(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url} exited:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(f"{url}/readyz", timeout=5).status_code == 200:
                return
        time.sleep(0.3)
    raise SystemExit(f"{url} never became ready:\n{log.read_text()[-3000:]}")


class Checks:
    def __init__(self):
        self.failures: list[str] = []

    def expect(self, condition: bool, what: str) -> None:
        print(f"  {'ok  ' if condition else 'FAIL'} {what}")
        if not condition:
            self.failures.append(what)


def check_edges(base: str, topology: Topology, checks: Checks) -> None:
    """Chunked body, body limit, a token at the cap: what the proxy and the server must pass."""
    headers = {"Authorization": f"Bearer {topology.token('user_topology_edges')}"}
    body = json.dumps({"title": "chunked", "goal_type": "concrete", "value_category": "craft"})
    chunked = requests.post(
        f"{base}/api/v1/goals",
        data=iter([body[:20].encode(), body[20:].encode()]),  # requests sends it chunked
        headers={**headers, "Content-Type": "application/json"},
        timeout=10,
    )
    checks.expect(
        chunked.status_code == 201,
        f"a chunked POST through nginx is stored ({chunked.status_code})",
    )
    big = requests.post(
        f"{base}/api/v1/goals",
        data=json.dumps({"title": "x", "description": "y" * 70_000}),
        headers={**headers, "Content-Type": "application/json"},
        timeout=10,
    )
    checks.expect(
        big.status_code == 413
        and big.headers["Content-Type"] == "application/json"
        and "detail" in big.json(),
        f"a body over 64 KiB is nginx's JSON 413 ({big.status_code})",
    )
    claims = {"sub": "user_topology_long", "sid": "s", "exp": int(time.time()) + 600}
    pad = 6200  # base64 of the claims passes 8,192 characters; come down to the cap
    while len(token := jwt.encode({**claims, "pad": "p" * pad}, topology.key, "RS256")) > 8192:
        pad -= 1
    long = requests.get(
        f"{base}/api/v1/goals", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    checks.expect(
        long.status_code == 200,
        f"a valid {len(token)}-byte token reaches the app ({long.status_code})",
    )
    too_long = requests.get(
        f"{base}/api/v1/goals", headers={"Authorization": f"Bearer {'a' * 20000}"}, timeout=10
    )
    checks.expect(
        too_long.status_code == 401 and too_long.headers["Content-Type"] == "application/json",
        f"a 20 KB token is the app's JSON 401 through nginx ({too_long.status_code})",
    )
    # Over 8,000 bytes but within nginx's buffers (32 KiB): nginx's JSON 414, never passed on.
    # (Past 32 KiB nginx's own 414, while reading.)
    uri = requests.get(f"{base}/api/v1/goals?q={'a' * 9_000}", headers=headers, timeout=10)
    checks.expect(
        uri.status_code == 414 and uri.headers["Content-Type"] == "application/json",
        f"a 9,000-byte URL is nginx's JSON 414 ({uri.status_code})",
    )
    beyond = requests.get(f"{base}/api/v1/goals?q={'a' * 40_000}", headers=headers, timeout=10)
    checks.expect(beyond.status_code == 414, f"a 40,000-byte URL is 414 ({beyond.status_code})")


def check_bounds(base: str, pgbouncer_port: int, topology: Topology, checks: Checks) -> None:
    """Every wait bounded behind PgBouncer too: its server connections carry the service's
    session settings (the ini's connect_query), and a locked row is a JSON 503 in ~3 s."""
    with psycopg.connect(
        f"postgresql://postgres@127.0.0.1:{pgbouncer_port}/delight", prepare_threshold=None
    ) as conn:
        shown = [
            conn.execute(f"SHOW {name}").fetchone()[0]
            for name in ("lock_timeout", "statement_timeout", "idle_in_transaction_session_timeout")
        ]
    checks.expect(
        shown == ["3s", "5s", "10s"], f"server connections of PgBouncer carry the bounds: {shown}"
    )
    headers = {"Authorization": f"Bearer {topology.token('user_topology_bounds')}"}
    body = {"title": "locked", "goal_type": "concrete", "value_category": "craft"}
    goal = requests.post(f"{base}/api/v1/goals", json=body, headers=headers, timeout=10).json()
    with psycopg.connect(f"{POSTGRES}/{topology.database}") as locker:
        locker.execute("SELECT 1 FROM goals WHERE id = %s FOR UPDATE", [goal["id"]])
        started = time.monotonic()
        patched = requests.patch(
            f"{base}/api/v1/goals/{goal['id']}", json={"title": "x"}, headers=headers, timeout=30
        )
        elapsed = time.monotonic() - started
        locker.rollback()
    checks.expect(
        patched.status_code == 503 and "Retry-After" in patched.headers and elapsed < 10,
        f"a PATCH of a locked row through nginx and PgBouncer is a 503 in {elapsed:.1f} s"
        f" ({patched.status_code})",
    )


def check_shared_rate_limit(base: str, checks: Checks) -> None:
    """Unauthenticated requests through nginx, spread over both instances, share one count."""
    redis.Redis.from_url(REDIS_URL).flushdb()
    if time.time() % 60 > 50:  # keep the burst inside one fixed window
        time.sleep(61 - time.time() % 60)
    statuses = collections.Counter()
    for n in range(ANON_LIMIT * 2):
        response = requests.get(
            f"{base}/api/v1/goals", headers={"X-Request-ID": f"topology-limit-{n}"}, timeout=10
        )
        statuses[response.status_code] += 1
    checks.expect(
        statuses == {401: ANON_LIMIT, 429: ANON_LIMIT},
        f"the per-address limit ({ANON_LIMIT}/min) is counted once for both instances: {dict(statuses)}",
    )


def drive(base: str, topology: Topology, clients: int, seconds: float, crash) -> dict:
    """Client threads creating, listing, reading and patching goals; ``crash`` at 40 %."""
    run = uuid.uuid4().hex[:8]
    results = []  # (time, kind, status, sub, title, goal id)
    failures = []  # what each failed request saw
    lock = threading.Lock()
    stop = threading.Event()

    def client(number: int) -> None:
        sub = f"user_topology_{run}_{number}"
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {topology.token(sub)}"
        mine: list[str] = []
        sent = 0
        while not stop.is_set():
            sent += 1
            kind = ("create", "list", "detail", "patch")[sent % 4] if mine else "create"
            title = f"topology {run} client {number} goal {sent}"
            headers = {"X-Request-ID": f"topology-{run}-{number}-{sent}"}
            goal_id = None
            try:
                if kind == "create":
                    body = {"title": title, "goal_type": "concrete", "value_category": "craft"}
                    response = session.post(
                        f"{base}/api/v1/goals", json=body, headers=headers, timeout=15
                    )
                    if response.status_code == 201:
                        goal_id = response.json()["id"]
                        mine.append(goal_id)
                elif kind == "list":
                    response = session.get(f"{base}/api/v1/goals", headers=headers, timeout=15)
                elif kind == "detail":
                    response = session.get(
                        f"{base}/api/v1/goals/{mine[-1]}", headers=headers, timeout=15
                    )
                else:
                    response = session.patch(
                        f"{base}/api/v1/goals/{mine[0]}",
                        json={"status": "paused"},
                        headers=headers,
                        timeout=15,
                    )
                status = response.status_code
                if status >= 500:
                    failures.append(
                        (kind, status, response.headers.get("Content-Type"), response.text[:120])
                    )
            except requests.RequestException as exc:
                status = "error"
                failures.append((kind, "error", type(exc).__name__, str(exc)[:160]))
            with lock:
                results.append((time.monotonic(), kind, status, sub, title, goal_id))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    time.sleep(seconds * 0.4)
    crashed_at = time.monotonic()
    crash()
    time.sleep(seconds * 0.6)
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    return {
        "results": results,
        "failures": failures,
        "started": started,
        "crashed_at": crashed_at,
        "run": run,
        "elapsed": time.monotonic() - started,
    }


def check_load(outcome: dict, topology: Topology, checks: Checks) -> None:
    results, crashed_at = outcome["results"], outcome["crashed_at"]
    by_status = collections.Counter(str(status) for _, _, status, *_ in results)
    window = [r for r in results if crashed_at <= r[0] <= crashed_at + FAILOVER_WINDOW_SECONDS]
    failed = lambda r: r[2] == "error" or (isinstance(r[2], int) and r[2] >= 500)  # noqa: E731
    outside = [r for r in results if failed(r) and r not in window]
    inside = [r for r in window if failed(r)]
    kinds = collections.Counter(kind for _, kind, *_ in results)
    print(
        f"  load: {len(results)} requests in {outcome['elapsed']:.1f} s "
        f"({len(results) / outcome['elapsed']:.0f}/s), {dict(kinds)}, statuses {dict(by_status)}"
    )
    print(
        f"  failover window ({FAILOVER_WINDOW_SECONDS:.0f} s after the crash): {len(window)} requests, {len(inside)} failed"
    )
    for failure in outcome["failures"][:8]:
        print(f"    failed: {failure}")
    checks.expect(
        not outside,
        f"no 5xx or broken request outside the failover window ({len(outside)}: {outside[:3]})",
    )

    acknowledged = {
        (sub, title): goal_id for _, kind, status, sub, title, goal_id in results if status == 201
    }
    with psycopg.connect(f"{POSTGRES}/{topology.database}") as conn:
        rows = conn.execute(
            "SELECT u.clerk_user_id, g.title, g.id::text FROM goals g JOIN users u ON u.id = g.user_id "
            "WHERE g.title LIKE %s",
            [f"topology {outcome['run']} %"],
        ).fetchall()
    stored = collections.Counter((sub, title) for sub, title, _ in rows)
    ids = {(sub, title): goal_id for sub, title, goal_id in rows}
    lost = [key for key in acknowledged if stored[key] != 1 or ids.get(key) != acknowledged[key]]
    twice = [key for key, count in stored.items() if count > 1]
    sent_titles = {(sub, title) for _, kind, _, sub, title, _ in results if kind == "create"}
    invented = [key for key in stored if key not in sent_titles]
    checks.expect(
        acknowledged and not lost and not twice and not invented,
        f"every acknowledged create stored exactly once: {len(acknowledged)} acknowledged, "
        f"{len(rows)} stored, lost {len(lost)}, twice {len(twice)}, never sent {len(invented)}",
    )


def check_logs(topology: Topology, outcome: dict, checks: Checks) -> None:
    prefix = f"topology-{outcome['run']}-"
    for name in ("web_a", "web_b"):
        lines = topology.logs[name].read_text().splitlines()
        records = []
        for line in lines:
            if line.startswith("{"):
                records.append(json.loads(line))
        not_json = [
            line
            for line in lines
            if not line.startswith("{")
            and "migrat" not in line.lower()
            and not line.startswith(
                ("  Apply", "Operations", "Running", "  No migrations", "Another", "Got the")
            )
        ]
        ids = {r.get("request_id", "") for r in records if r.get("logger") == "delight.request"}
        ours = {i for i in ids if i.startswith(prefix)}
        checks.expect(
            bool(ours), f"{name}: {len(ours)} of the load's request ids in its JSON access lines"
        )
        checks.expect(
            not not_json,
            f"{name}: every log line is JSON (but migrate's own output): {not_json[:2]}",
        )
    nginx_ids = {
        json.loads(line)["request_id"]
        for line in (topology.workdir / "nginx-access.log").read_text().splitlines()
    }
    checks.expect(any(i.startswith(prefix) for i in nginx_ids), "nginx logs the same request ids")
    migrations = [topology.logs[n].read_text() for n in ("web_a", "web_b")]
    applied = sum("Applying accounts.0001_initial" in text for text in migrations)
    checks.expect(
        applied == 1, f"both instances migrated at start; {applied} applied, the other waited"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=6)
    args = parser.parse_args()
    for tool in ("nginx", "pgbouncer"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            raise SystemExit(f"{tool} is not installed (make topology installs it)")
    os.environ["PATH"] = f"{os.environ['PATH']}:/usr/sbin"

    workdir = Path(tempfile.mkdtemp(prefix="delight-topology-"))
    topology = Topology(workdir)
    checks = Checks()
    try:
        redis.Redis.from_url(REDIS_URL).flushdb()  # rate-limit counters of an earlier run
        topology.create_database()
        print(f"topology: PostgreSQL 127.0.0.1:5432/{topology.database}, Redis {REDIS_URL}")
        pgbouncer_port = topology.start_pgbouncer()
        print(
            f"topology: PgBouncer {'.'.join(map(str, pgbouncer_version()))} on 127.0.0.1:{pgbouncer_port} (transaction mode)"
        )
        env = topology.web_env(pgbouncer_port)
        port_a = topology.start_web("web_a", env)  # both at once: both migrate
        port_b = topology.start_web("web_b", env)
        for name, port in (("web_a", port_a), ("web_b", port_b)):
            wait_until_ready(
                f"http://127.0.0.1:{port}", topology.processes[name], topology.logs[name]
            )
        nginx_port = topology.start_nginx([port_a, port_b])
        base = f"http://127.0.0.1:{nginx_port}"
        print(
            f"topology: nginx 127.0.0.1:{nginx_port} -> delight.serve 127.0.0.1:{port_a} (A), 127.0.0.1:{port_b} (B), 2 workers each"
        )

        check_edges(base, topology, checks)
        check_bounds(base, pgbouncer_port, topology, checks)
        check_shared_rate_limit(base, checks)
        outcome = drive(
            base,
            topology,
            args.clients,
            args.seconds,
            crash=lambda: topology.kill("web_a", signal.SIGKILL),
        )
        print(
            f"  instance A killed (SIGKILL) at {outcome['crashed_at'] - outcome['started']:.1f} s"
        )
        check_load(outcome, topology, checks)
        check_logs(topology, outcome, checks)
    finally:
        topology.stop_all()
        with contextlib.suppress(psycopg.Error):
            topology.drop_database()
        shutil.rmtree(workdir, ignore_errors=True)
    if checks.failures:
        print(f"topology: {len(checks.failures)} check(s) failed")
        return 1
    print("topology: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

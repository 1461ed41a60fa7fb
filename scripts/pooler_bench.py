"""Prepared statements behind PgBouncer, measured: which is faster, and by how much?

    python scripts/pooler_bench.py [--pgbouncer CMD] [--rounds N] [--seconds S]

The service (python -m delight.serve, 2 workers, as scripts/topology.py starts it) runs in
several configurations at once, each on its own port, against one database on 127.0.0.1:5432 (a fresh one, dropped at the
end): PostgreSQL directly with prepared statements on and off, and through PgBouncer in
transaction mode (deploy/pgbouncer/pgbouncer.ini's pool settings) with them off, and, when the
PgBouncer is 1.21 or newer (``max_prepared_statements``), on. wrk (2 threads, 16 connections)
drives list, detail and create against each configuration in turn, the order alternating from
round to round, so a busy machine's drift hits all alike. Prints requests/s per scenario and
configuration (median of the rounds) and each configuration's ratio to the direct, prepared one.

``--pgbouncer`` is the command that runs PgBouncer (default: ``pgbouncer`` from PATH, Debian
12's 1.18 here). docs/SCALING.md says how a 1.24 was run on this machine.
"""

import argparse
import contextlib
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from topology import POSTGRES, Topology, free_port, wait_for_port, wait_until_ready

LUA_CREATE = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"title": "Benchmark goal", "description": "A goal made by wrk", "goal_type": "concrete", "value_category": "craft", "target_date": "2027-01-01"}'
"""


def version_of(command: list[str]) -> tuple[int, int]:
    out = subprocess.run([*command, "--version"], capture_output=True, text=True, check=True)
    major, minor = re.search(r"PgBouncer (\d+)\.(\d+)", out.stdout).groups()
    return int(major), int(minor)


def start_pgbouncer(topology: Topology, command: list[str], name: str, prepared: bool) -> int:
    """PgBouncer with the pool settings of deploy/pgbouncer/pgbouncer.ini, on loopback."""
    port = free_port()
    ini = topology.workdir / f"{name}.ini"
    userlist = topology.workdir / "userlist.txt"
    userlist.write_text('"postgres" ""\n')
    lines = [
        "[databases]",
        f"delight = host=127.0.0.1 port=5432 dbname={topology.database}",
        "[pgbouncer]",
        "listen_addr = 127.0.0.1",
        f"listen_port = {port}",
        "unix_socket_dir =",
        "auth_type = trust",
        f"auth_file = {userlist}",
        "pool_mode = transaction",
        "max_client_conn = 1000",
        "default_pool_size = 20",
        "ignore_startup_parameters = extra_float_digits",
    ]
    if prepared:
        lines.append("max_prepared_statements = 200")
    ini.write_text("\n".join(lines) + "\n")
    user = ["-u", "postgres"] if os.geteuid() == 0 else []
    topology.start(name, [*command, *user, str(ini)])
    wait_for_port(port, topology.processes[name], topology.logs[name])
    return port


def wrk(url: str, token: str, seconds: float, script: Path | None) -> float:
    argv = ["wrk", "-t2", "-c16", f"-d{int(seconds)}s", "-H", f"Authorization: Bearer {token}"]
    if script is not None:
        argv += ["-s", str(script)]
    out = subprocess.run([*argv, url], capture_output=True, text=True, check=True).stdout
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise SystemExit(f"{url}: {non2xx.group(1)} non-2xx answers\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--pgbouncer", action="append", help="a command that runs PgBouncer (repeatable)"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=8)
    args = parser.parse_args()
    commands = [shlex.split(command) for command in args.pgbouncer or ["pgbouncer"]]

    topology = Topology(Path(tempfile.mkdtemp(prefix="delight-pooler-bench-")))
    try:
        topology.create_database()
        configs = {"direct, prepared": (None, "1"), "direct, unprepared": (None, "0")}
        for number, command in enumerate(commands):
            version = version_of(command)
            label = f"pgbouncer {version[0]}.{version[1]}"
            port = start_pgbouncer(topology, command, f"pgbouncer_{number}", prepared=False)
            configs[f"{label}, unprepared"] = (port, "0")
            if version >= (1, 21):  # max_prepared_statements
                port = start_pgbouncer(topology, command, f"pgbouncer_{number}p", prepared=True)
                configs[f"{label}, prepared"] = (port, "1")
        urls = {}
        for number, (name, (pooler_port, prepared)) in enumerate(configs.items()):
            env = topology.web_env(pooler_port or 5432)
            if pooler_port is None:
                env["DATABASE_URL"] = f"{POSTGRES}/{topology.database}"
                env.pop("DATABASE_TRANSACTION_POOLING")
            env.update(DATABASE_PREPARED_STATEMENTS=prepared, WEB_CONCURRENCY="2")
            env["DJANGO_MIGRATE_ON_START"] = "1" if number == 0 else "0"
            web_port = topology.start_web(f"web_{number}", env)
            urls[name] = f"http://127.0.0.1:{web_port}"
            wait_until_ready(
                urls[name], topology.processes[f"web_{number}"], topology.logs[f"web_{number}"]
            )

        reader, writer = topology.token("user_bench_reader"), topology.token("user_bench_writer")
        first = next(iter(urls.values()))
        body = {"title": "Seed", "goal_type": "concrete", "value_category": "health"}
        ids = [
            requests.post(
                f"{first}/api/v1/goals",
                json=body,
                headers={"Authorization": f"Bearer {reader}"},
                timeout=10,
            ).json()["id"]
            for _ in range(60)
        ]
        create_script = topology.workdir / "create.lua"
        create_script.write_text(LUA_CREATE)
        scenarios = {
            "list": ("/api/v1/goals", reader, None),
            "detail": (f"/api/v1/goals/{ids[7]}", reader, None),
            "create": ("/api/v1/goals", writer, create_script),
        }
        results = {(s, c): [] for s in scenarios for c in configs}
        for round_number in range(args.rounds):
            order = list(configs) if round_number % 2 == 0 else list(reversed(configs))
            for scenario, (path, token, script) in scenarios.items():
                for config in order:
                    wrk(urls[config] + path, token, 2, script)  # warm-up
                    rate = wrk(urls[config] + path, token, args.seconds, script)
                    results[scenario, config].append(rate)
                    print(
                        f"round {round_number + 1} {scenario:6} {config:28} {rate:8.1f} req/s",
                        flush=True,
                    )
        print(
            f"\nmedian requests/s of {args.rounds} rounds ({args.seconds:.0f} s each, wrk 2 threads, 16 connections)"
        )
        print(f"{'scenario':8} " + " ".join(f"{c:>28}" for c in configs))
        for scenario in scenarios:
            medians = [statistics.median(results[scenario, c]) for c in configs]
            base = medians[0]
            print(f"{scenario:8} " + " ".join(f"{m:18.1f} ({m / base:5.2f}x)" for m in medians))
    finally:
        topology.stop_all()
        with contextlib.suppress(Exception):
            topology.drop_database()
        shutil.rmtree(topology.workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What keeping every goal's history costs a write, measured with it on and off.

    .venv/bin/python scripts/history_cost.py [--pgbench-rounds 6] [--seconds 10]
        [--rounds 5] [--requests 40] [--valgrind-requests 100] [--skip pgbench,requests,valgrind]
        [--admin-url postgresql://postgres@127.0.0.1:5432/postgres]

Three views of one cost, each interleaved on/off in the same run (on a fresh database seeded as
scripts/speedups.py seeds: a reader with 60 goals, a writer):

1. PostgreSQL alone (pgbench): the API's own statements, exactly as goals.services compiles them
   (the INSERT of a create; two UPDATEs flipping a status, as the bench's patch does), sent as
   prepared statements by one client, with the history triggers (goals_record_created,
   goals_record_changed) enabled and disabled in alternate runs. tps and latency per statement.
2. A whole request, in this process (scripts/speedups.py's WSGI calls): per request, the wall
   time, this process's CPU time and the CPU time of the PostgreSQL backend serving it (read
   from /proc/<pid>/stat), history on (triggers and the statements' actor marker) and off.
3. Python alone (valgrind's callgrind, as scripts/instructions.py counts): instructions per
   request with the actor marker in the statements and without. PostgreSQL's work is another
   process and not counted here; the marker is compiled into the statements once, so the
   figures should agree.

"Off" is the service as it was before history: no trigger, no marker. The figures go to the lead
for docs/PERFORMANCE.md; docs/DATABASE.md says how they were taken.
"""

import argparse
import contextlib
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import speedups  # after its directory is on the path

TRIGGERS = ("goals_record_created", "goals_record_changed")
WARM_UP = 30


def set_triggers(enabled: bool) -> None:
    from django.db import connection

    verb = "ENABLE" if enabled else "DISABLE"
    with connection.cursor() as cursor:
        for trigger in TRIGGERS:
            cursor.execute(f"ALTER TABLE goals {verb} TRIGGER {trigger}")


@contextlib.contextmanager
def unmarked():
    """The API's statements without the actor marker, compiled again (as before history)."""
    from goals.services import GOAL_INSERT, GOAL_UPDATE

    saved = GOAL_INSERT._prefix, GOAL_UPDATE._prefix
    GOAL_INSERT._prefix = GOAL_UPDATE._prefix = ""
    GOAL_INSERT._compiled.cache_clear()
    GOAL_UPDATE._compiled.cache_clear()
    try:
        yield
    finally:
        GOAL_INSERT._prefix, GOAL_UPDATE._prefix = saved
        GOAL_INSERT._compiled.cache_clear()
        GOAL_UPDATE._compiled.cache_clear()


@contextlib.contextmanager
def history(state: str):
    if state == "on":
        yield
        return
    set_triggers(False)
    try:
        with unmarked():
            yield
    finally:
        set_triggers(True)


# --- 1. pgbench ------------------------------------------------------------------------------


def _pgbench_sql(statement: str, params: list) -> str:
    """A compiled statement with each slot as a pgbench variable (``:name``), one line."""
    from goals.prepared import Slot

    names = iter(param.name for param in params if isinstance(param, Slot))
    return re.sub(r"%s", lambda _: f":{next(names)}", " ".join(statement.split()))


def pgbench_scripts(data: dict, workdir: Path) -> dict[str, tuple[Path, dict]]:
    """The create's INSERT and the patch's two UPDATEs as pgbench scripts, with their values."""
    from django.db import connection

    from goals.services import GOAL_INSERT, GOAL_UPDATE

    values = {
        "title": "Learn to sail",
        "description": "Dinghy first, then a keelboat.",
        "goal_type": "concrete",
        "value_category": "craft",
        "target_date": "2027-06-01",
        "user_id": data["writer_id"],
    }
    insert, params, _, _ = GOAL_INSERT._compiled(frozenset(values))
    create = workdir / "create.sql"
    create.write_text(_pgbench_sql(insert, params) + ";\n")
    update, params = GOAL_UPDATE._compiled(frozenset({"status"}), (("versioned", False),))
    update = update.as_string(connection.connection)
    one = _pgbench_sql(update, params)
    patch = workdir / "patch.sql"
    # Two statements (autocommit, as the API sends each): paused, then active again, so both
    # change the goal (the bench's patch flips its status the same way).
    patch.write_text(
        one.replace(":status", ":paused") + ";\n" + one.replace(":status", ":active") + ";\n"
    )
    owner = {"owner": data["reader_id"], "pk": data["goal"]}
    return {
        "create": (create, values),
        "patch": (patch, {**owner, "paused": "paused", "active": "active"}),
    }


def pgbench(
    url: str, script: Path, variables: dict, seconds: int, *, synchronous: bool
) -> tuple[float, float]:
    """(tps, mean latency in ms) of one client running ``script`` as prepared statements.
    ``synchronous``: each commit waits for its WAL flush (the server's setting, production's);
    without, what is left is the statements' own work."""
    defines = [arg for name, value in variables.items() for arg in ("-D", f"{name}={value}")]
    options = "" if synchronous else "-c synchronous_commit=off"
    out = subprocess.run(
        ["pgbench", "-n", "-M", "prepared", "-c", "1", "-T", str(seconds), *defines,
         "-f", str(script), url],
        capture_output=True, text=True, check=True, env={**os.environ, "PGOPTIONS": options},
    ).stdout  # fmt: skip
    tps = float(re.search(r"tps = ([\d.]+)", out).group(1))
    latency = float(re.search(r"latency average = ([\d.]+) ms", out).group(1))
    return tps, latency


def measure_pgbench(url: str, data: dict, rounds: int, seconds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="delight-history-") as workdir:
        scripts = pgbench_scripts(data, Path(workdir))
        runs = [(name, sync) for name in scripts for sync in (True, False)]
        results = {run: {"on": [], "off": []} for run in runs}
        for round_number in range(rounds):
            for name, sync in runs:
                script, variables = scripts[name]
                order = ("on", "off") if round_number % 2 == 0 else ("off", "on")
                for state in order:
                    set_triggers(state == "on")
                    try:
                        results[name, sync][state].append(
                            pgbench(url, script, variables, seconds, synchronous=sync)
                        )
                    finally:
                        set_triggers(True)
            print(f"pgbench round {round_number + 1}/{rounds} done", file=sys.stderr)
    print("\n1. PostgreSQL alone: pgbench, 1 client, prepared statements, trigger on/off")
    print("   (medians of the runs; commit: as the server is set, or synchronous_commit=off)")
    print(f"{'statement':10s} {'commit':6s} {'tps on':>9s} {'tps off':>9s} {'cost':>7s} "
          f"{'ms on':>7s} {'ms off':>7s} {'µs more':>8s}")  # fmt: skip
    for (name, sync), states in results.items():
        on_tps, off_tps = (statistics.median(t for t, _ in states[s]) for s in ("on", "off"))
        on_ms, off_ms = (statistics.median(m for _, m in states[s]) for s in ("on", "off"))
        per = "per 2 UPDATEs" if name == "patch" else "per INSERT"
        print(f"{name:10s} {'sync' if sync else 'async':6s} {on_tps:9.0f} {off_tps:9.0f} "
              f"{100 * (1 - on_tps / off_tps):6.1f}% {on_ms:7.3f} {off_ms:7.3f} "
              f"{1000 * (on_ms - off_ms):8.1f}  ({per})")  # fmt: skip


def statement_cpu(url: str, script: Path, variables: dict, count: int) -> float:
    """Microseconds of backend CPU per run of ``script`` (its statements prepared, as pgbench
    and the service send them), read from the scheduler's count for that backend: what the
    statements cost PostgreSQL, however busy the machine's clock is."""
    import psycopg

    statements = [line.rstrip(";") for line in script.read_text().splitlines() if line]
    compiled = []
    for statement in statements:
        names = re.findall(r":(\w+)", statement)
        compiled.append((re.sub(r":\w+", "%s", statement), [variables[name] for name in names]))
    with psycopg.connect(url, autocommit=True, prepare_threshold=0) as conn:
        (pid,) = conn.execute("SELECT pg_backend_pid()").fetchone()
        for _ in range(20):  # prepared, warm
            for statement, params in compiled:
                conn.execute(statement, params)
        before = _backend_cpu(pid)
        for _ in range(count):
            for statement, params in compiled:
                conn.execute(statement, params)
        return (_backend_cpu(pid) - before) * 1e6 / count


def measure_statement_cpu(url: str, data: dict, rounds: int, count: int) -> None:
    with tempfile.TemporaryDirectory(prefix="delight-history-") as workdir:
        scripts = pgbench_scripts(data, Path(workdir))
        results = {name: {"on": [], "off": []} for name in scripts}
        for round_number in range(rounds):
            for name, (script, variables) in scripts.items():
                order = ("on", "off") if round_number % 2 == 0 else ("off", "on")
                for state in order:
                    set_triggers(state == "on")
                    try:
                        results[name][state].append(statement_cpu(url, script, variables, count))
                    finally:
                        set_triggers(True)
    print("\n   PostgreSQL's CPU per run of the same statements (one backend, µs; median)")
    for name, states in results.items():
        on, off = (statistics.median(states[state]) for state in ("on", "off"))
        per = "per 2 UPDATEs" if name == "patch" else "per INSERT"
        print(f"{name:10s} on {on:7.1f}  off {off:7.1f}  +{on - off:6.1f} µs "
              f"({100 * (on / off - 1):5.1f}%)  ({per})")  # fmt: skip


def server_cpu(url: str, owner: str, count: int) -> tuple[float, float]:
    """Microseconds of backend CPU per INSERT and per UPDATE when PostgreSQL runs ``count`` of
    each in one statement (a DO loop): the statements' and triggers' own work, without the
    protocol or a commit per statement."""
    import psycopg
    from psycopg import sql

    values = {"owner": sql.Literal(owner), "count": sql.Literal(count)}
    insert = sql.SQL("""DO $$ BEGIN FOR i IN 1..{count} LOOP
        INSERT INTO goals (title, description, goal_type, value_category, target_date, user_id)
        VALUES ('Learn to sail', 'Dinghy first.', 'concrete', 'craft', '2027-06-01', {owner});
        END LOOP; END $$""").format(**values)
    update = sql.SQL("""DO $$ DECLARE g uuid; BEGIN
        FOR g IN SELECT id FROM goals WHERE user_id = {owner}
                  ORDER BY created_at DESC LIMIT {count} LOOP
            UPDATE goals SET status = CASE WHEN status = 'paused' THEN 'active' ELSE 'paused' END
             WHERE user_id = {owner} AND id = g;
        END LOOP; END $$""").format(**values)
    with psycopg.connect(url, autocommit=True) as conn:
        (pid,) = conn.execute("SELECT pg_backend_pid()").fetchone()
        costs = []
        for statement in (insert, update):
            before = _backend_cpu(pid)
            conn.execute(statement)
            costs.append((_backend_cpu(pid) - before) * 1e6 / count)
    return costs[0], costs[1]


def measure_server_cpu(url: str, data: dict, rounds: int, count: int) -> None:
    results = {"on": [], "off": []}
    for round_number in range(rounds):
        for state in ("on", "off") if round_number % 2 == 0 else ("off", "on"):
            set_triggers(state == "on")
            try:
                results[state].append(server_cpu(url, data["writer_id"], count))
            finally:
                set_triggers(True)
    print("\n   PostgreSQL's CPU per statement run inside the server (a DO loop: no protocol, no")
    print("   commit per statement; µs, median)")
    for index, name in enumerate(("INSERT", "UPDATE")):
        on, off = (statistics.median(r[index] for r in results[s]) for s in ("on", "off"))
        print(f"{name:10s} on {on:7.1f}  off {off:7.1f}  +{on - off:6.1f} µs")


# --- 2. whole requests -----------------------------------------------------------------------


def _backend_cpu(pid: int) -> float:
    """Seconds the PostgreSQL backend ``pid`` has run on a CPU (the scheduler's own count, in
    nanoseconds: /proc/<pid>/stat's ticks are too coarse for a batch of requests)."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9


def _request_batch(app, make_request, count: int) -> tuple[float, float, float]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    backend = _backend_cpu(pid)
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(count):
        status = speedups.call(app, make_request())
        if not status.startswith("20"):
            raise SystemExit(f"unexpected answer: {status}")
    return (
        (time.perf_counter() - wall) * 1e6 / count,
        (time.process_time() - cpu) * 1e6 / count,
        (_backend_cpu(pid) - backend) * 1e6 / count,
    )


def measure_requests(app, scenarios: dict, rounds: int, requests: int) -> None:
    results = {name: {"on": [], "off": []} for name in scenarios}
    for round_number in range(rounds):
        for name, make_request in scenarios.items():
            for repeat in range(4):
                order = ("on", "off") if (round_number + repeat) % 2 == 0 else ("off", "on")
                for state in order:
                    with history(state):
                        _request_batch(app, make_request, 6)  # settle: statements re-prepared
                        results[name][state].append(_request_batch(app, make_request, requests))
        print(f"requests round {round_number + 1}/{rounds} done", file=sys.stderr)
    print("\n2. Whole requests in one process (µs per request; the fastest batch of each state)")
    print(f"{'request':8s} {'wall on':>8s} {'off':>7s} {'cost':>6s}   {'python cpu on':>13s} "
          f"{'off':>6s}   {'postgres cpu on':>15s} {'off':>6s}   {'cpu on':>7s} {'off':>6s} "
          f"{'cost':>6s}")  # fmt: skip
    for name, states in results.items():
        best = {state: [min(batch[i] for batch in states[state]) for i in range(3)]
                for state in ("on", "off")}  # fmt: skip
        (wall_on, py_on, pg_on), (wall_off, py_off, pg_off) = best["on"], best["off"]
        cpu_on, cpu_off = py_on + pg_on, py_off + pg_off
        print(f"{name:8s} {wall_on:8.0f} {wall_off:7.0f} {100 * (wall_on / wall_off - 1):5.1f}%"
              f"   {py_on:13.0f} {py_off:6.0f}   {pg_on:15.0f} {pg_off:6.0f}   {cpu_on:7.0f} "
              f"{cpu_off:6.0f} {100 * (cpu_on / cpu_off - 1):5.1f}%")  # fmt: skip


# --- 3. valgrind ------------------------------------------------------------------------------


def child(scenario: str, count: int, state: str) -> None:
    """Serve ``count`` requests of ``scenario`` after a warm-up (run under valgrind)."""
    import gc
    import json

    import django

    django.setup()
    app = speedups.application()
    make_request = speedups.requests_of(json.loads(os.environ["HISTORY_COST_DATA"]))[scenario]
    with unmarked() if state == "off" else contextlib.nullcontext():

        def serve(n: int) -> None:
            for _ in range(n):
                status = speedups.call(app, make_request())
                if not status.startswith("20"):
                    raise SystemExit(f"unexpected answer: {status}")

        serve(WARM_UP)
        gc.collect()
        gc.freeze()
        sys.call_tracing(serve, (count,))  # counted: only what runs inside this call


def instructions(scenario: str, count: int, state: str, workdir: str) -> float:
    out = Path(workdir) / f"callgrind-{state}-{scenario}.out"
    command = [
        *("valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"),
        *("--collect-atstart=no", "--toggle-collect=sys_call_tracing"),
        *(sys.executable, __file__, "--child", scenario, str(count), state),
    ]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)  # fmt: skip
    for line in out.read_text().splitlines():
        if line.startswith(("totals:", "summary:")):
            return int(line.split()[1]) / count
    raise SystemExit(f"no instruction total in {out}")


def measure_instructions(data: dict, count: int) -> None:
    import json

    os.environ["HISTORY_COST_DATA"] = json.dumps(data)
    os.environ["DJANGO_LOG_LEVEL"] = "INFO"  # as the bench's servers log: one line a request
    print("\n3. Python alone: instructions per request (valgrind), actor marker on/off")
    print(f"{'request':8s} {'on':>12s} {'off':>12s} {'cost':>7s}")
    with tempfile.TemporaryDirectory(prefix="delight-history-") as workdir:
        for scenario in ("create", "patch"):
            # One after the other: both share the database (and its triggers).
            on = instructions(scenario, count, "on", workdir)
            off = instructions(scenario, count, "off", workdir)
            print(
                f"{scenario:8s} {on:12,.0f} {off:12,.0f} {100 * (on / off - 1):6.2f}%", flush=True
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pgbench-rounds", type=int, default=6)
    parser.add_argument("--seconds", type=int, default=10, help="per pgbench run")
    parser.add_argument("--rounds", type=int, default=5, help="of whole requests")
    parser.add_argument("--requests", type=int, default=40, help="per batch")
    parser.add_argument("--valgrind-requests", type=int, default=100)
    parser.add_argument("--skip", default="", help="comma-separated: pgbench,requests,valgrind")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), args.child[2])
        return 0
    skip = set(args.skip.split(","))
    speedups.DATABASE = "delight_history_cost"
    speedups.configure(args.admin_url)
    try:
        from accounts.models import User

        data = speedups.seed()
        data["reader_id"] = str(User.objects.get(username="user_bench_reader").pk)
        data["writer_id"] = str(User.objects.get(username="user_bench_writer").pk)
        url = os.environ["DATABASE_URL"]
        if "pgbench" not in skip:
            measure_pgbench(url, data, args.pgbench_rounds, args.seconds)
            measure_statement_cpu(url, data, args.pgbench_rounds * 3, 500)
            measure_server_cpu(url, data, args.pgbench_rounds * 2, 2000)
        if "requests" not in skip:
            app = speedups.application()
            scenarios = {
                name: make for name, make in speedups.requests_of(data).items()
                if name in ("create", "patch")
            }  # fmt: skip
            for make_request in scenarios.values():
                for _ in range(WARM_UP):
                    speedups.call(app, make_request())
            measure_requests(app, scenarios, args.rounds, args.requests)
        if "valgrind" not in skip:
            measure_instructions(data, args.valgrind_requests)
    finally:
        from django.db import connections

        connections.close_all()
        import psycopg

        with psycopg.connect(args.admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {speedups.DATABASE} WITH (FORCE)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Instructions per request, each speed-up on and off, counted by valgrind (make bench-instructions).

    .venv/bin/python scripts/instructions.py [--only NAME,...] [--scenarios create,patch]
        [--requests 100] [--admin-url postgresql://postgres@127.0.0.1:5432/postgres]

The same requests and the same on/off switches as scripts/speedups.py (its SPEEDUPS), counted
instead of timed: where that script's timings move with the machine (on a busy shared VM by
20-60 % from one batch to the next), the number of instructions a request runs does not. Each
figure is what valgrind's callgrind counts while one process serves N requests, over N: the
counting is on only inside ``sys.call_tracing`` (``--toggle-collect``), which the child calls
for the N requests after its start-up and a warm-up of 30; the start-up is not counted at all
(an earlier version subtracted a process serving none, and the start-up's own variation, a few
hundred thousand instructions a request, came through). An instruction is not a unit of time
(a cache miss or a system call costs more than its count says, PostgreSQL's own work is not
counted at all), so the headline figures stay those of ../shared/bench/run; a speed-up that
removes Python work shows here as fewer instructions, whatever else the machine is doing.
Needs valgrind (``apt-get install -y valgrind``); each measurement takes about a minute.
"""

import argparse
import concurrent.futures
import contextlib
import gc
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import speedups  # after its directory is on the path

WARM_UP = 30


def child(scenario: str, count: int, off: str | None) -> None:
    """Serve ``count`` requests of ``scenario`` after the warm-up (run under valgrind)."""
    import django

    django.setup()
    app = speedups.application()
    make_request = speedups.requests_of(json.loads(os.environ["INSTRUCTIONS_DATA"]))[scenario]
    with contextlib.ExitStack() as stack:
        name = off or os.environ.get("INSTRUCTIONS_SPEEDUP")
        if name:
            for common in speedups.SPEEDUPS[name][2:]:  # the same in both states
                stack.enter_context(common())
        if off:
            stack.enter_context(speedups.SPEEDUPS[off][1]())

        def serve(n: int) -> None:
            for _ in range(n):
                status = speedups.call(app, make_request())
                if not status.startswith("20"):
                    raise SystemExit(f"unexpected answer: {status}")

        serve(WARM_UP)
        # The start-up's objects frozen: a full collection landing among the counted requests
        # (it did in one state and not the other: 4 % of a list) walks only what they made.
        gc.collect()
        gc.freeze()
        # Counted: only what runs inside this call (valgrind's --toggle-collect names it).
        sys.call_tracing(serve, (count,))


def instructions(scenario: str, count: int, name: str, state: str, workdir: str) -> float:
    """Instructions per request of ``scenario`` with the speed-up ``name`` in ``state``."""
    out = Path(workdir) / f"callgrind-{name}-{state}-{scenario}.out"
    command = [
        *("valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"),
        # Nothing is counted but the requests served inside sys.call_tracing (see child).
        *("--collect-atstart=no", "--toggle-collect=sys_call_tracing"),
        *(sys.executable, __file__, "--child", scenario, str(count)),
        *(["--off", name] if state == "off" else []),
    ]
    env = {**os.environ, "PYTHONHASHSEED": "0", "INSTRUCTIONS_SPEEDUP": name}
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)  # fmt: skip
    for line in out.read_text().splitlines():
        if line.startswith(("totals:", "summary:")):
            return int(line.split()[1]) / count
    raise SystemExit(f"no instruction total in {out}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="", help="comma-separated speed-up names")
    parser.add_argument("--scenarios", default="list,detail,create,patch")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--child", nargs=2, metavar=("SCENARIO", "N"), help=argparse.SUPPRESS)
    parser.add_argument("--off", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), args.off)
        return 0

    speedups.DATABASE = "delight_instructions"
    speedups.configure(args.admin_url)  # a fresh database, migrated; its settings in os.environ
    try:
        return measure(args)
    finally:
        from django.db import connections

        connections.close_all()
        import psycopg

        with psycopg.connect(args.admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {speedups.DATABASE}")


def measure(args) -> int:
    os.environ["INSTRUCTIONS_DATA"] = json.dumps(speedups.seed())
    os.environ["DJANGO_LOG_LEVEL"] = "INFO"  # as the bench's servers log: one line a request
    # Under valgrind Python runs some 50 times slower: a cold first request takes seconds, past
    # the 8 s database deadline of a request. The same code runs with a longer one.
    os.environ["DATABASE_CLIENT_TIMEOUT"] = "3600"
    names = [name for name in speedups.SPEEDUPS if not args.only or name in args.only.split(",")]
    scenarios = args.scenarios.split(",")
    print(f"{'speed-up':27s} {'request':7s} {'on':>12s} {'off':>12s} {'gain':>7s}")
    with tempfile.TemporaryDirectory(prefix="delight-instructions-") as workdir:
        for name in names:
            for scenario in scenarios:
                with concurrent.futures.ThreadPoolExecutor(2) as pool:  # side by side
                    on, off = (
                        pool.submit(instructions, scenario, args.requests, name, state, workdir)
                        for state in ("on", "off")
                    )
                    on, off = on.result(), off.result()
                print(
                    f"{name:27s} {scenario:7s} {on:12,.0f} {off:12,.0f}"
                    f" {100 * (off / on - 1):6.1f}%",
                    flush=True,
                )
            print(f"{'':27s} lives in {speedups.SPEEDUPS[name][0]}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

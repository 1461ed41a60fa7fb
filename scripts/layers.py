"""Where a request's time goes, layer by layer, beside the bench's floor (make bench-layers).

    .venv/bin/python scripts/layers.py [--requests 1000] [--batches 5]
        [--floor ../shared/bench/floor/app.py]
        [--admin-url postgresql://postgres@127.0.0.1:5432/postgres]

Issue #23 asks for at least half the floor's requests a second (../shared/bench: the same API as a
bare WSGI function, served by the same server). This script measures what that leaves, on the
database scripts/speedups.py seeds (the bench's reader and writer), in this one process, so that
the machine's drift touches every figure alike:

- the service's own layers, each an empty answer served the way the API serves its goals:
  a plain Django view behind the API's middleware chain; a DRF ``APIView`` without
  authentication, permissions or throttles; the same with the project's (a verified token, the
  rate limit, content negotiation, the renderer); the same making the detail's one query
  (``goals.selectors.goal_get``) and answering without it;
- the service's four requests of the bench (detail, list, create, patch), and the floor's, called
  in this process (``--floor``: the bench's ``floor/app.py``, skipped when absent);
- PostgreSQL alone: the create's INSERT in a tight loop on one connection, with the history and
  the per-user limit triggers on and off (wall time and the server process's CPU).

Each figure is the fastest of ``--batches`` batches of ``--requests`` calls (other work on the
machine only ever slows a batch down): this process's CPU time and wall time per request. A
request's wall time is its CPU time plus what it waits for PostgreSQL; under the bench's server
(two workers, one thread each) a worker serves one request at a time, so the wall time is what
bounds a write's requests a second, and CPU time what bounds a read's.
"""

import argparse
import importlib.util
import os
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import speedups  # after its directory is on the path

ROOT = Path(__file__).resolve().parents[1]
INSERT = (
    "/* delight.actor=user */ INSERT INTO goals"
    " (user_id, title, description, goal_type, value_category, target_date, status)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id, created_at, updated_at"
)
TRIGGERS = {
    "every trigger": (),
    "without the history trigger": ("goals_record_created",),
    "without the limit trigger": ("goals_per_user_limit",),
    "without either": ("goals_record_created", "goals_per_user_limit"),
}


def layer_views():
    """URL patterns for the three empty answers, under /api/ (so the API's chain serves them)."""
    from django.http import HttpResponse
    from django.urls import path
    from django.views.decorators.csrf import csrf_exempt
    from rest_framework.response import Response
    from rest_framework.views import APIView

    from goals import selectors

    @csrf_exempt
    def django_view(request):
        return HttpResponse(b'{"ok":true}', content_type="application/json")

    class Bare(APIView):
        authentication_classes = permission_classes = throttle_classes = ()

        def get(self, request):
            return Response({"ok": True})

    class Authenticated(APIView):  # the project's DEFAULT_* classes, as the goals API's views
        def get(self, request):
            return Response({"ok": True})

    class Reading(Authenticated):  # and the detail's one query, its answer left out
        def get(self, request, pk):
            selectors.goal_get(user=request.user, pk=uuid.UUID(pk))
            return Response({"ok": True})

    return [
        path("api/v1/layers/django", django_view),
        path("api/v1/layers/drf", Bare.as_view()),
        path("api/v1/layers/drf-authenticated", Authenticated.as_view()),
        path("api/v1/layers/drf-reading/<str:pk>", Reading.as_view()),
    ]


def measure(app, make_request, *, requests: int, batches: int) -> tuple[float, float]:
    """(CPU µs, wall µs) per request, of the fastest batch (scripts/speedups.py measures one)."""
    speedups.measure(app, make_request, 100)  # warm-up
    wall, cpu = min(
        (speedups.measure(app, make_request, requests) for _ in range(batches)),
        key=lambda figures: figures[1],
    )
    return cpu, wall


def database_alone(*, requests: int, batches: int) -> dict[str, tuple[float, float]]:
    """The create's INSERT on one connection: (server CPU µs, wall µs) per statement."""
    import psycopg

    url = os.environ["DATABASE_URL"]
    options = "-c delight.goals_per_user_limit=1000000000"
    results = {}
    with psycopg.connect(url, autocommit=True) as admin:
        writer = admin.execute(
            "SELECT id FROM users WHERE clerk_user_id = 'user_bench_writer'"
        ).fetchone()[0]
        values = (writer, "Learn to sail", "Dinghy first.", "concrete", "craft", "2027-06-01",
                  "active")  # fmt: skip
        for label, disabled in TRIGGERS.items():
            for name in disabled:
                admin.execute(f"ALTER TABLE goals DISABLE TRIGGER {name}")
            try:
                with psycopg.connect(url, autocommit=True, prepare_threshold=0,
                                     options=options) as conn:  # fmt: skip
                    stat = Path(f"/proc/{conn.info.backend_pid}/stat")
                    for _ in range(100):
                        conn.execute(INSERT, values)
                    best = None
                    for _ in range(batches):
                        cpu, wall = _ticks(stat), time.perf_counter()
                        for _ in range(requests):
                            conn.execute(INSERT, values)
                        figures = (
                            (_ticks(stat) - cpu) / os.sysconf("SC_CLK_TCK") * 1e6 / requests,
                            (time.perf_counter() - wall) * 1e6 / requests,
                        )
                        best = figures if best is None or figures[1] < best[1] else best
                    results[label] = best
            finally:
                for name in disabled:
                    admin.execute(f"ALTER TABLE goals ENABLE TRIGGER {name}")
    return results


def _ticks(stat: Path) -> int:
    fields = stat.read_text().rpartition(")")[2].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def load_floor(path: Path):
    """The bench's floor application, or None when it is not there."""
    if not path.is_file():
        return None
    spec = importlib.util.spec_from_file_location("bench_floor", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.application


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000, help="per batch")
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--floor", type=Path, default=ROOT.parent / "shared/bench/floor/app.py")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    speedups.configure(args.admin_url)
    data = speedups.seed()
    import psycopg

    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        # The floor's connections do not name a limit: the database's default serves them.
        conn.execute(
            f"ALTER DATABASE {speedups.DATABASE} SET delight.goals_per_user_limit = 1000000000"
        )
    from django.urls import clear_url_caches

    from delight import urls

    urls.urlpatterns[:0] = layer_views()
    clear_url_caches()

    def asking_json(make):  # as the bench asks (wrk sends Accept: application/json)
        return lambda: {**make(), "HTTP_ACCEPT": "application/json"}

    def get(path):
        return asking_json(lambda: speedups.environ("GET", path, data["reader"]))

    scenarios = {name: asking_json(make) for name, make in speedups.requests_of(data).items()}
    app = speedups.application()
    rows = [
        ("Django view, the API's middleware", app, get("/api/v1/layers/django")),
        ("DRF APIView, no auth/throttle", app, get("/api/v1/layers/drf")),
        ("DRF APIView, the project's classes", app, get("/api/v1/layers/drf-authenticated")),
        (
            "  + the detail's query (goal_get)",
            app,
            get(f"/api/v1/layers/drf-reading/{data['goal']}"),
        ),
        *((f"service {name}", app, make) for name, make in scenarios.items()),
    ]
    floor = load_floor(args.floor)
    if floor is not None:
        rows += [(f"floor {name}", floor, make) for name, make in scenarios.items()]
    else:
        print(f"(no floor at {args.floor}: its rows are left out)", file=sys.stderr)

    figures = {}
    print(f"{'layer / request':38s} {'CPU µs':>8s} {'wall µs':>8s}")
    for label, application, make in rows:
        cpu, wall = figures[label] = measure(
            application, make, requests=args.requests, batches=args.batches
        )
        print(f"{label:38s} {cpu:8.0f} {wall:8.0f}", flush=True)
    if floor is not None:
        print("\nservice / floor, CPU and wall (half the floor's requests a second needs <= 2.0)")
        for name in scenarios:
            service, bare = figures[f"service {name}"], figures[f"floor {name}"]
            print(f"  {name:7s} CPU {service[0] / bare[0]:4.2f}  wall {service[1] / bare[1]:4.2f}")

    print(f"\n{'PostgreSQL alone, the INSERT of a create':38s} {'CPU µs':>8s} {'wall µs':>8s}")
    for label, (cpu, wall) in database_alone(requests=args.requests, batches=args.batches).items():
        print(f"  {label:36s} {cpu:8.0f} {wall:8.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Every speed-up the service keeps, measured on and off in one run (make bench-speedups).

    .venv/bin/python scripts/speedups.py [--rounds 7] [--requests 150] [--only NAME,...]
        [--admin-url postgresql://postgres@127.0.0.1:5432/postgres]

The service's WSGI application is called in this process, the bench's four requests (list:
a 50-goal page; detail; create; patch flipping a status), on a fresh database seeded like the
bench's reader (60 goals, one in ten archived). For each speed-up, every round measures each
request with the speed-up on and off, in alternating order, and the report gives the median
per-request wall time and this process's CPU time (of the fastest batch), and the change the
speed-up makes. An entry may name a third context, entered in both states (to measure one
speed-up with another off). "Off"
puts back what Django, DRF or psycopg do by themselves (see SPEEDUPS below, one entry each).

Why in-process: on this 2-core machine, shared with other work, an HTTP benchmark's ratios move
by 15 % or more from one run to the next, far more than the few percent one speed-up is worth;
the CPU time of the request itself, interleaved on and off, moves by 1-2 %. "gain" is what the
speed-up adds to the requests a second one worker serves (off time / on time - 1), from the
fastest batch of each (other work on the machine only ever slows a batch). The headline figures
against the story's FastAPI design come from ../shared/bench/run (make bench).
"""

import argparse
import contextlib
import io
import os
import secrets
import sys
import time
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATABASE = "delight_speedups"


def configure(admin_url: str) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    global PRIVATE_KEY
    PRIVATE_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = (
        PRIVATE_KEY.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
        conn.execute(f"CREATE DATABASE {DATABASE}")
    base = admin_url.rsplit("/", 1)[0]
    os.environ.update(
        DJANGO_SETTINGS_MODULE="delight.settings",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        CLERK_JWT_KEY=pem,
        DATABASE_URL=f"{base}/{DATABASE}",
        RATE_LIMIT_USER_PER_MINUTE="1000000000",
        GOALS_PER_USER_LIMIT="1000000",
        DJANGO_LOG_LEVEL="WARNING",
    )
    for name in ("CLERK_JWKS_URL", "CLERK_ISSUER", "CLERK_AUTHORIZED_PARTIES", "REDIS_URL"):
        os.environ.pop(name, None)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def seed() -> dict:
    import jwt

    from accounts.models import User
    from goals.models import Goal

    reader = User.objects.create(clerk_user_id="user_bench_reader", username="user_bench_reader")
    User.objects.create(clerk_user_id="user_bench_writer", username="user_bench_writer")
    Goal.objects.bulk_create(
        Goal(
            user=reader,
            title=f"Goal number {i}: something worth doing",
            description="A description of the goal, of a typical length for a person.",
            goal_type="concrete" if i % 2 else "abstract",
            value_category=("health", "craft", "growth", "connection")[i % 4],
            status="archived" if i % 10 == 0 else "active",
        )
        for i in range(60)
    )
    now = int(time.time())

    def token(sub: str) -> str:
        claims = {"sub": sub, "sid": f"sess_{sub}", "iat": now, "nbf": now, "exp": now + 86400}
        return jwt.encode(claims, PRIVATE_KEY, algorithm="RS256", headers={"kid": "bench"})

    visible = Goal.objects.filter(user=reader).exclude(status="archived").first()
    return {"reader": token("user_bench_reader"), "writer": token("user_bench_writer"),
            "goal": str(visible.pk)}  # fmt: skip


def requests_of(data: dict) -> dict:
    create = (
        b'{"title": "Learn to sail", "description": "Dinghy first, then a keelboat.", '
        b'"goal_type": "concrete", "value_category": "craft", "target_date": "2027-06-01"}'
    )
    flip = {"n": 0}

    def patch_body() -> bytes:
        flip["n"] += 1
        return b'{"status": "paused"}' if flip["n"] % 2 else b'{"status": "active"}'

    return {
        "list": lambda: environ("GET", "/api/v1/goals", data["reader"]),
        "detail": lambda: environ("GET", f"/api/v1/goals/{data['goal']}", data["reader"]),
        "create": lambda: environ("POST", "/api/v1/goals", data["writer"], create),
        "patch": lambda: environ(
            "PATCH", f"/api/v1/goals/{data['goal']}", data["reader"], patch_body()
        ),
    }


def environ(method: str, path: str, token: str, body: bytes = b"") -> dict:
    return {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_AUTHORIZATION": f"Bearer {token}",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
    }


def application():
    """The service's WSGI application (delight.wsgi: its API chain and its pages' chain)."""
    from delight import wsgi

    return wsgi.application


def reload_chains() -> None:
    """Both chains of delight.wsgi built again from settings.MIDDLEWARE (a middleware switch)."""
    from delight import wsgi

    wsgi.pages.load_middleware()
    wsgi.load_api_chain(wsgi.api)


def call(app, env: dict) -> str:
    status = []
    b"".join(app(env, lambda s, headers, exc_info=None: status.append(s)))
    return status[0]


def reconnect() -> None:
    from django.db import connection

    connection.close()


# --- the speed-ups: name -> (where it lives, a context manager that turns it off) -------------


# ``obj.<name>`` is ``value`` inside the block, then what it was (an attribute the object only
# inherited is deleted again). The standard library's: the name must exist, or AttributeError, so
# a speed-up renamed in the code fails here instead of its "off" run measuring "on" (the
# hand-written version set the new name anyway).
_patched = mock.patch.object


@contextlib.contextmanager
def drf_representation():
    from rest_framework import serializers

    from goals.serializers import GoalSerializer

    with _patched(GoalSerializer, "to_representation", serializers.Serializer.to_representation):
        yield


@contextlib.contextmanager
def drf_deepcopied_fields():
    from rest_framework import serializers

    from goals.serializers import SharedFieldsMixin

    with _patched(SharedFieldsMixin, "get_fields", serializers.Serializer.get_fields):
        yield


@contextlib.contextmanager
def drf_json_renderer():
    """DRF's JSON renderer (the standard library's encoder). A list page's goals, which
    PostgreSQL wrote, are read back for it to write (delight.renderers' encoder): the list's
    figure counts that too."""
    from rest_framework import renderers

    from delight.renderers import _Encoder
    from goals.views import GoalViewSet

    class DRFJSONRenderer(renderers.JSONRenderer):
        encoder_class = _Encoder

    with _patched(
        GoalViewSet,
        "renderer_classes",
        [DRFJSONRenderer, renderers.BrowsableAPIRenderer],
    ):
        yield


@contextlib.contextmanager
def no_verified_token_cache():
    from accounts import clerk

    class Forgetful:  # every token verified in full, as without the cache
        def __getitem__(self, key):
            raise KeyError(key)

        def __setitem__(self, key, value):
            pass

    with _patched(clerk, "_verified_tokens", lambda: Forgetful()):
        yield


@contextlib.contextmanager
def no_prepared_statements():
    from django.db import connection

    options = connection.settings_dict["OPTIONS"]
    saved = {key: options.pop(key) for key in ("server_side_binding", "prepare_threshold")
             if key in options}  # fmt: skip
    reconnect()
    try:
        yield
    finally:
        options.update(saved)
        reconnect()


@contextlib.contextmanager
def django_health_check():
    from django.db.backends.postgresql import base

    from delight.postgresql.base import DatabaseWrapper

    with _patched(
        DatabaseWrapper,
        "close_if_health_check_failed",
        base.DatabaseWrapper.close_if_health_check_failed,
    ):
        yield


@contextlib.contextmanager
def python_timestamp_loader():
    from delight.postgresql.base import DatabaseWrapper

    with _patched(DatabaseWrapper, "_c_loader_applies", lambda self: False):
        reconnect()
        yield
    reconnect()


@contextlib.contextmanager
def count_then_page():
    """Count, then the page: two queries, the page cut by the ORM (the prepared default too)."""
    from goals import selectors

    def first_page(*, user, params, listed):
        from django.db.models import Value

        total = listed().count()
        rows = selectors.rows_of(listed(), owner=Value(user.public_id))[: params.page_size]
        return (list(rows) if total else []), total

    with _patched(selectors, "first_page", first_page):
        yield


@contextlib.contextmanager
def list_json_by_python():
    """A list page's goals read as rows of columns and represented in Python (the serializer's
    fast representation, then orjson), not written by PostgreSQL."""
    from collections import namedtuple

    from delight.renderers import JSONRenderer
    from goals import selectors
    from goals.serializers import GoalSerializer

    def rows_of(queryset, *, owner, also=()):
        rows = queryset.values_list(*GoalSerializer.columns(), *also, named=True)
        return _Rendered(rows, owner.value, also)

    class _Rendered:
        def __init__(self, rows, owner_id, also):
            self.rows, self.owner_id, self.also = rows, owner_id, also

        def __getitem__(self, item):
            return _Rendered(self.rows[item], self.owner_id, self.also)

        def __iter__(self):
            from accounts.models import User

            owner = User(clerk_user_id=self.owner_id)
            serializer = GoalSerializer(context={"owner": owner})
            render = JSONRenderer().render
            row = namedtuple("Row", ["goal", "created_at", "id", *self.also])
            for goal in self.rows:
                text = render(serializer.to_representation(goal)).decode()
                yield row(text, goal.created_at, goal.id, *(getattr(goal, n) for n in self.also))

    def counted(queryset, *, owner):
        from django.db.models import Count, Window

        return rows_of(
            queryset.annotate(total_goals=Window(Count("*"))), owner=owner, also=("total_goals",)
        )

    with _patched(selectors, "rows_of", rows_of), _patched(selectors, "counted", counted):
        yield


@contextlib.contextmanager
def orm_default_list():
    from goals.filters import GoalListParams

    with _patched(GoalListParams, "is_default_list", lambda self: False):
        yield


@contextlib.contextmanager
def orm_get_object():
    """The goal by id through the ORM, its query built and compiled per call."""
    from django.shortcuts import get_object_or_404

    from goals import selectors
    from goals.models import Goal

    def goal_get(*, user, pk):
        return get_object_or_404(Goal.objects.owned_by(user), pk=pk)

    with _patched(selectors, "goal_get", goal_get):
        yield


@contextlib.contextmanager
def cache_rate_counter():
    """Without REDIS_URL, the counts in Django's in-memory cache (add, then incr), as before."""
    from django.core.cache import cache

    from delight import throttling

    def count(key, window):
        key = f"ratelimit:{key}:{window}"
        ttl = throttling.WINDOW_SECONDS + 5
        return 1 if cache.add(key, 1, timeout=ttl) else cache.incr(key)

    with _patched(throttling, "count", count):
        yield


@contextlib.contextmanager
def row_names_per_run():
    """A prepared query's column names read from the cursor's description at every run."""
    from goals import selectors
    from goals.prepared import PreparedQuery, _row_class

    def row_of(self, cursor):
        return _row_class(tuple(column.name for column in cursor.description))

    queries = (selectors.GOAL_BY_ID, selectors.DEFAULT_FIRST_PAGE)
    kept = [query._row for query in queries]
    for query in queries:
        query._row = None
    with _patched(PreparedQuery, "_row_of", row_of):
        yield
    for query, row in zip(queries, kept, strict=True):
        query._row = row


@contextlib.contextmanager
def every_request_through_every_middleware():
    """No API chain: every request through the whole of settings.MIDDLEWARE."""
    from delight import wsgi

    with _patched(wsgi, "api", wsgi.pages):
        yield


@contextlib.contextmanager
def orm_create():
    """Goal.objects.create(), its INSERT compiled per call."""
    from goals.models import Goal
    from goals.services import GOAL_INSERT

    def create(**values):
        return Goal.objects.create(**values)

    with _patched(GOAL_INSERT, "create", create):
        yield


@contextlib.contextmanager
def orm_update():
    """QuerySet.update()'s UpdateQuery built and compiled per call (with its RETURNING)."""
    from goals.services import GOAL_PATCH, GOAL_UPDATE

    with (
        _patched(GOAL_UPDATE, "_compiled", GOAL_UPDATE._compile),
        _patched(GOAL_PATCH, "_compiled", GOAL_PATCH._compile),
    ):
        yield


@contextlib.contextmanager
def patch_read_first():
    """A PATCH without If-Match reads the goal first, then writes it at the id read
    (goal_get, then goal_update's UPDATE ... RETURNING updated_at), as before goal_patch."""
    from goals import selectors, services, views

    def goal_patch(*, user, pk, changes, expected_versions=None):
        goal = selectors.goal_get(user=user, pk=pk)
        return services.goal_update(goal=goal, changes=changes, expected_versions=expected_versions)

    with _patched(views, "goal_patch", goal_patch):
        yield


@contextlib.contextmanager
def every_middleware_at_work():
    """Django's MessageMiddleware (its storage made for every request) and corsheaders in
    MIDDLEWARE with no origin configured, as settings had them before: the chain rebuilt."""
    from django.conf import settings
    from django.test import override_settings

    middleware = [
        "django.contrib.messages.middleware.MessageMiddleware"
        if name == "delight.middleware.MessageMiddleware"
        else name
        for name in settings.MIDDLEWARE
        if name != "corsheaders.middleware.CorsMiddleware"
    ]
    at = middleware.index("django.contrib.sessions.middleware.SessionMiddleware") + 1
    middleware.insert(at, "corsheaders.middleware.CorsMiddleware")
    with override_settings(MIDDLEWARE=middleware):
        reload_chains()
        yield
    reload_chains()


@contextlib.contextmanager
def unbounded_database():
    """A cost, not a speed-up: the database's bounds off (docs/RELIABILITY.md, "When the
    database is in trouble"). psycopg's own connection (no deadline in its wait loop), Django's
    own cursor wrappers (no recovery), no RequestDeadline middleware. The session settings
    (lock_timeout, ...) are the server's business and cost the client nothing; its "gain" is
    what the bounds cost a request."""
    import psycopg
    from django.conf import settings
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.backends.postgresql import base
    from django.test import override_settings

    from delight.postgresql.base import DatabaseWrapper

    middleware = [m for m in settings.MIDDLEWARE if not m.endswith(".RequestDeadline")]
    with (
        _patched(DatabaseWrapper, "Database", psycopg),
        _patched(DatabaseWrapper, "make_cursor", BaseDatabaseWrapper.make_cursor),
        _patched(DatabaseWrapper, "make_debug_cursor", base.DatabaseWrapper.make_debug_cursor),
        override_settings(MIDDLEWARE=middleware),
    ):
        reload_chains()
        reconnect()
        yield
    reload_chains()
    reconnect()


SPEEDUPS = {
    "prepared-insert": (
        "goal_create, GOAL_INSERT (goals/services.py, goals/prepared.py)",
        orm_create,
    ),
    "prepared-update": (
        "goal_patch, goal_update, GOAL_PATCH, GOAL_UPDATE (goals/services.py, goals/prepared.py)",
        orm_update,
    ),
    "patch-one-statement": ("goals.services.goal_patch", patch_read_first),
    "serializer-representation": (
        "GoalSerializer.to_representation (goals/serializers.py)",
        drf_representation,
    ),
    "serializer-shallow-fields": (
        "SharedFieldsMixin.get_fields (goals/serializers.py; GoalSerializer, the list's params)",
        drf_deepcopied_fields,
    ),
    # Measured with the default list through the ORM in both states (its prepared query writes
    # the JSON in PostgreSQL too).
    "list-json-by-postgresql": (
        "GoalSerializer.written_by_postgresql; goals.selectors.rows_of, counted",
        list_json_by_python,
        orm_default_list,
    ),
    "prepared-default-list": ("goals.selectors.first_page, DEFAULT_FIRST_PAGE", orm_default_list),
    "prepared-get-object": ("goals.selectors.goal_get, GOAL_BY_ID", orm_get_object),
    # Measured with the default list through the ORM in both states, to see the window alone.
    "first-page-window-count": (
        "goals.selectors.first_page, counted",
        count_then_page,
        orm_default_list,
    ),
    "orjson-renderer": ("delight.renderers.JSONRenderer", drf_json_renderer),
    "verified-token-cache": ("accounts.clerk.verify", no_verified_token_cache),
    "db-health-check": (
        "DatabaseWrapper.close_if_health_check_failed (delight/postgresql/base.py)",
        django_health_check,
    ),
    "c-timestamp-loader": (
        "DatabaseWrapper.get_new_connection, create_cursor (delight/postgresql/base.py)",
        python_timestamp_loader,
    ),
    "prepared-statements": (
        "DATABASES OPTIONS server_side_binding + prepare_threshold (delight/settings.py)",
        no_prepared_statements,
    ),
    "local-rate-counter": ("delight.throttling.LocalCounter", cache_rate_counter),
    "prepared-row-names-once": ("goals.prepared.PreparedQuery.rows, _row_of", row_names_per_run),
    "api-chain": ("delight.wsgi (PAGES_ONLY)", every_request_through_every_middleware),
    "database-bounds": (
        "delight.postgresql (deadline.WatchedConnection.wait and RequestDeadline,"
        " base._Recovering): a cost, its gain negative",
        unbounded_database,
    ),
    "idle-middleware-skipped": (
        "delight.middleware.MessageMiddleware; corsheaders only with CORS_ALLOWED_ORIGINS"
        " (delight/settings.py)",
        every_middleware_at_work,
    ),
}


def measure(app, make_request, count: int) -> tuple[float, float]:
    """Mean wall and CPU microseconds per request over ``count`` calls."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(count):
        status = call(app, make_request())
        if not status.startswith("20"):
            raise SystemExit(f"unexpected answer: {status}")
    return (
        (time.perf_counter() - wall) * 1e6 / count,
        (time.process_time() - cpu) * 1e6 / count,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=4, help="on/off pairs per round")
    parser.add_argument("--requests", type=int, default=30, help="per batch")
    parser.add_argument("--only", default="", help="comma-separated speed-up names")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    configure(args.admin_url)
    app = application()
    scenarios = requests_of(seed())
    names = [name for name in SPEEDUPS if not args.only or name in args.only.split(",")]
    for make_request in scenarios.values():  # warm every path, caches and prepared statements
        for _ in range(30):
            call(app, make_request())

    results = {name: {scenario: {"on": [], "off": []} for scenario in scenarios} for name in names}
    for round_number in range(args.rounds):
        for name in names:
            for scenario, make_request in scenarios.items():
                for repeat in range(args.repeats):
                    order = ("on", "off") if (round_number + repeat) % 2 == 0 else ("off", "on")
                    for state in order:
                        with contextlib.ExitStack() as stack:
                            for common in SPEEDUPS[name][2:]:  # the same in both states
                                stack.enter_context(common())
                            if state == "off":
                                stack.enter_context(SPEEDUPS[name][1]())
                            measure(app, make_request, 6)  # settle (a reconnect, a refill)
                            results[name][scenario][state].append(
                                measure(app, make_request, args.requests)
                            )
        print(f"round {round_number + 1}/{args.rounds} done", file=sys.stderr)

    print(f"{'speed-up':27s} {'request':7s} {'on µs':>8s} {'off µs':>8s} {'gain':>7s}"
          f" {'cpu on':>8s} {'cpu off':>8s} {'cpu gain':>8s}")  # fmt: skip
    for name in names:
        for scenario in scenarios:
            on = results[name][scenario]["on"]
            off = results[name][scenario]["off"]
            # The fastest batch of each: other work on the machine only ever slows a batch down.
            wall_on, wall_off = (min(x[0] for x in v) for v in (on, off))
            cpu_on, cpu_off = (min(x[1] for x in v) for v in (on, off))
            print(
                f"{name:27s} {scenario:7s} {wall_on:8.0f} {wall_off:8.0f}"
                f" {100 * (wall_off / wall_on - 1):6.1f}%"
                f" {cpu_on:8.0f} {cpu_off:8.0f} {100 * (cpu_off / cpu_on - 1):7.1f}%"
            )
        print(f"{'':27s} lives in {SPEEDUPS[name][0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

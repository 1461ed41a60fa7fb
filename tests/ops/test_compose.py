"""docker-compose.yml and .env.example, read as an operator's copy would be (no Docker engine
runs here; make topology starts the same shape from Debian's packages)."""

import re

import yaml

from tests.ops.servers import ROOT

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
# What the code reads from the environment: delight.env's helpers (delight/serve.py's server
# settings included) and the odd os.environ.get (a WSGI environ's keys are no settings).
_READ = re.compile(
    r"""\b(?:env_(?:str|bool|int|list|seconds)|os\.environ\.get)\(\s*["']([A-Z_]+)["']"""
)
# Set by the processes themselves, or by the test suite only.
NOT_SETTINGS = {"PROMETHEUS_MULTIPROC_DIR", "DJANGO_TEST_DATABASE_NAME", "PORT", "WEB_APPLICATION"}


def settings_the_code_reads() -> set[str]:
    sources = []
    for package in ("delight", "accounts", "goals"):
        sources += (ROOT / package).rglob("*.py")
    names = {name for path in sources for name in _READ.findall(path.read_text())}
    return names - NOT_SETTINGS


def test_the_scan_finds_the_settings():
    names = settings_the_code_reads()
    assert {
        "DJANGO_SECRET_KEY",
        "CLERK_JWT_KEY",
        "RATE_LIMIT_USER_PER_MINUTE",
        "METRICS_ADDR",
        "WEB_CONCURRENCY",
        "WEB_THREADS",
        "WEB_CLIENT_TIMEOUT",
    } <= names


def test_every_setting_reaches_the_replicas():
    """.env and the shell's environment are read by compose's ${...}; a variable that is not
    named in the web service's environment never reaches the app (before: only 14 did)."""
    environment = COMPOSE["services"]["web"]["environment"]
    assert sorted(settings_the_code_reads() - set(environment)) == []
    # Those an operator may set are passed through; blank means unset for the app.
    for name in ("RATE_LIMIT_USER_PER_MINUTE", "LOGIN_FAILURE_LIMIT", "CORS_ALLOWED_ORIGINS"):
        assert environment[name] == f"${{{name}:-}}"


def test_only_the_proxy_publishes_a_port_and_everything_has_a_healthcheck():
    services = COMPOSE["services"]
    assert [name for name, service in services.items() if "ports" in service] == ["proxy"]
    assert [name for name, service in services.items() if "healthcheck" not in service] == []
    # The backend network only: no port of web is published.
    assert services["web"]["environment"]["METRICS_ADDR"] == "0.0.0.0"  # noqa: S104


def test_the_example_env_holds_no_working_secret():
    values = dict(
        line.split("=", 1)
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert values == {"DJANGO_SECRET_KEY": "", "POSTGRES_PASSWORD": ""}
    environment = COMPOSE["services"]["web"]["environment"]
    assert ":?" in environment["DJANGO_SECRET_KEY"]  # blank stops compose, with the reason
    assert ":?" in environment["DATABASE_URL"]


def test_the_replicas_run_the_production_server_and_may_stop_gracefully():
    """The image's command is python -m delight.serve (Dockerfile); compose names none of the
    previous server's settings (delight.serve refuses to start while one is set), and gives a
    replica longer to stop than the server's graceful timeout (20 s)."""
    environment = COMPOSE["services"]["web"]["environment"]
    assert not [name for name in environment if name.startswith("GUNICORN_")]
    assert COMPOSE["services"]["web"]["stop_grace_period"] == "30s"

"""Settings come from the environment, and production mode refuses to start without its secrets,
under manage.py and under gunicorn alike."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.exceptions import ImproperlyConfigured

from delight.env import database_from_url, env_bool, env_int, env_list, env_str

ROOT = Path(__file__).resolve().parents[2]


PRIVATE_PEM = (
    rsa.generate_private_key(public_exponent=65537, key_size=2048)
    .private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    .decode()
)


def run(args: list[str], timeout: float = 60, **env) -> subprocess.CompletedProcess:
    environ = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "CLERK_")) and key != "DATABASE_URL"
    }
    environ.update({"DJANGO_SETTINGS_MODULE": "delight.settings", **env})
    return subprocess.run(
        args, cwd=ROOT, env=environ, capture_output=True, text=True, timeout=timeout, check=False
    )


def load_settings(**env) -> subprocess.CompletedProcess:
    return run([sys.executable, "-c", "import django; django.setup()"], **env)


def test_production_without_a_secret_key_refuses_to_start():
    result = load_settings(DJANGO_DEBUG="0", CLERK_JWT_KEY=os.environ["CLERK_JWT_KEY"])
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set; it is required when DJANGO_DEBUG is off." in result.stderr


def test_production_without_a_clerk_key_refuses_to_start():
    result = load_settings(DJANGO_SECRET_KEY="s" * 50)
    assert result.returncode != 0
    assert "No Clerk key: set CLERK_JWT_KEY (PEM) or CLERK_JWKS_URL" in result.stderr


def test_manage_py_refuses_in_one_line_when_deployed():
    """With DATABASE_URL set (a deployment) manage.py applies the production rules."""
    result = run(
        [sys.executable, "manage.py", "check"],
        DJANGO_SECRET_KEY="s" * 50,
        DATABASE_URL="postgresql://nobody@127.0.0.1:9/none",
    )
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "manage.py: No Clerk key: set CLERK_JWT_KEY (PEM) or CLERK_JWKS_URL; required when DJANGO_DEBUG is off."
    ]


def test_manage_py_on_a_developers_machine_needs_no_setup():
    """Without DATABASE_URL (the embedded database) manage.py runs with DEBUG on."""
    result = run(
        [sys.executable, "manage.py", "makemigrations", "--check", "--dry-run"], timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "No changes detected" in result.stdout


def test_the_production_server_refuses_to_start_without_the_secrets():
    """python -m delight.serve loads the settings before it starts a worker: one line."""
    result = run([sys.executable, "-m", "delight.serve"], timeout=120, DJANGO_SECRET_KEY="s" * 50)
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("delight.serve: No Clerk key")


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("not a key", "CLERK_JWT_KEY is not a PEM public key: "),
        (PRIVATE_PEM, "CLERK_JWT_KEY is not a PEM public key (that is a private key: paste the"),
    ],
)
def test_a_clerk_key_that_cannot_verify_stops_the_start_in_one_line(key, message):
    """It used to be read at the first request: /readyz said ready, every request was a 500."""
    result = run(
        [sys.executable, "manage.py", "check"],
        DJANGO_SECRET_KEY="s" * 50,
        CLERK_JWT_KEY=key,
        DATABASE_URL="postgresql://nobody@127.0.0.1:9/none",
    )
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"manage.py: {message}")


def test_a_bad_debug_value_is_refused():
    result = load_settings(DJANGO_DEBUG="maybe")
    assert "DJANGO_DEBUG must be 1 or 0 (got 'maybe')." in result.stderr


def test_settings_read_the_environment(settings):
    assert settings.DEBUG is False
    assert settings.USE_TZ is True
    assert settings.TIME_ZONE == "UTC"
    assert settings.AUTH_USER_MODEL == "accounts.User"
    assert settings.DATABASES["default"]["CONN_HEALTH_CHECKS"] is True
    assert settings.DATABASES["default"]["CONN_MAX_AGE"] > 0
    assert settings.SESSION_COOKIE_SECURE is True


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "postgresql://app:s%40cret@db.internal:6543/delight?sslmode=require",
            {
                "NAME": "delight",
                "USER": "app",
                "PASSWORD": "s@cret",
                "HOST": "db.internal",
                "PORT": "6543",
                "OPTIONS": {"sslmode": "require"},
            },
        ),
        (
            "postgres://postgres@127.0.0.1/goals",
            {
                "NAME": "goals",
                "USER": "postgres",
                "PASSWORD": "",
                "HOST": "127.0.0.1",
                "PORT": "",
                "OPTIONS": {},
            },
        ),
        (
            "postgresql://postgres:@/delight?host=/run/pg",
            {
                "NAME": "delight",
                "USER": "postgres",
                "PASSWORD": "",
                "HOST": "/run/pg",
                "PORT": "",
                "OPTIONS": {},
            },
        ),
    ],
)
def test_database_url_parsing(url, expected):
    parsed = database_from_url(url)
    assert parsed["ENGINE"] == "delight.postgresql"
    assert {key: parsed[key] for key in expected} == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://root@localhost/db", "must start with postgresql://"),
        ("postgresql://localhost", "names no database"),
        ("postgresql://localhost:99999999/db", "invalid port"),
    ],
)
def test_bad_database_urls_are_refused(url, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        database_from_url(url)


def test_env_helpers(monkeypatch):
    monkeypatch.setenv("X_BOOL", "yes")
    monkeypatch.setenv("X_INT", "12")
    monkeypatch.setenv("X_LIST", " a, b ,,c ")
    monkeypatch.setenv("X_BLANK", "   ")
    assert env_bool("X_BOOL") is True
    assert env_bool("X_MISSING", default=True) is True
    assert env_int("X_INT", 5) == 12
    assert env_int("X_MISSING", 5) == 5
    assert env_list("X_LIST") == ["a", "b", "c"]
    assert env_list("X_MISSING", ["d"]) == ["d"]
    assert env_str("X_BLANK", "default") == "default"
    monkeypatch.setenv("X_INT", "twelve")
    with pytest.raises(ImproperlyConfigured, match="X_INT must be a whole number"):
        env_int("X_INT", 5)
    monkeypatch.setenv("X_INT", "-1")
    with pytest.raises(ImproperlyConfigured, match="X_INT must be at least 0"):
        env_int("X_INT", 5)


def test_deploy_checks_pass_with_production_settings():
    """Production as the README configures it; without the Clerk issuer, authorized parties or
    webhook secret it warns (tests/accounts/test_checks.py)."""
    result = run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        DJANGO_SECRET_KEY="k" + "".join(chr(33 + i % 90) for i in range(60)),
        CLERK_JWT_KEY=os.environ["CLERK_JWT_KEY"],
        CLERK_ISSUER="https://clerk.example.test",
        CLERK_AUTHORIZED_PARTIES="https://app.example.test",
        CLERK_WEBHOOK_SIGNING_SECRET="whsec_c2VjcmV0LWZvci10aGUtY2hlY2s=",
        DATABASE_URL="postgresql://nobody@127.0.0.1:9/none",
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(("debug", "age"), [("1", "0"), ("0", "600")])
def test_connections_are_kept_only_where_a_worker_reuses_them(debug, age):
    """runserver (DEBUG, make run) serves each request on a new thread: a kept connection is
    never reused, and a burst of requests used up PostgreSQL's connections (a 503 for
    everyone until restart). gunicorn's workers reuse theirs."""
    result = run(
        [
            sys.executable,
            "-c",
            "from django.conf import settings; print(settings.DATABASES['default']['CONN_MAX_AGE'])",
        ],
        DJANGO_DEBUG=debug,
        DJANGO_SECRET_KEY="s" * 50,
        CLERK_JWT_KEY=os.environ["CLERK_JWT_KEY"],
        DATABASE_URL="postgresql://nobody@127.0.0.1:9/none",
    )
    assert result.stdout.strip() == age, result.stderr

"""The README tells the truth: every command it shows exists and is run somewhere (here, or by
.ci/run), and its configuration table is what the code reads."""

import re
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import get_commands

from scripts.readme_block import block

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
CI_RUN = (ROOT / ".ci/run").read_text()

# Targets too long or too disruptive for the suite (each is dry-run below, so it exists and
# parses); everything else the README names is run by .ci/run or by a test.
LONG_TARGETS = {
    "bench",
    "bench-speedups",
    "bench-instructions",
    "bench-layers",
    "fuzz",
    "soak",
    "lock",
    "clean",
    "guide",
    "format",
    "screenshots",
}
# Targets whose work the suite itself does: lint (ruff in make test), install (test_install),
# schema (test_openapi compares its output with the committed file), migrate (every test db),
# help (below).
RUN_BY_TESTS = {
    "lint",
    "install",
    "schema",
    "migrate",
    "help",
    "chromium",
}  # chromium: by make test


def _code() -> str:
    """The README's code: fenced blocks and inline spans."""
    return "\n".join(
        re.findall(r"```\w*\n(.*?)```", README, re.S) + re.findall(r"`([^`\n]+)`", README)
    )


def test_every_make_target_the_readme_names_exists():
    targets = set(re.findall(r"\bmake (\w[\w-]*)", _code()))
    assert {"run", "test"} <= targets
    for target in sorted(targets):
        dry = subprocess.run(
            ["make", "-n", target], cwd=ROOT, capture_output=True, text=True, check=False
        )
        assert dry.returncode == 0, (target, dry.stderr)
        assert re.search(rf"^{target}:.*## ", (ROOT / "Makefile").read_text(), re.M), target
        if target not in LONG_TARGETS:
            assert f"make {target}" in CI_RUN or target in RUN_BY_TESTS, target


def test_make_help_lists_the_targets():
    help_text = subprocess.run(
        ["make", "help"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    for target in ("run", "test", "bench", "lock"):
        assert f"make {target}" in help_text


def test_every_manage_py_command_the_readme_names_exists():
    commands = set(re.findall(r"manage\.py (\w+)", _code()))
    assert {"dev_token", "createsuperuser", "runserver"} <= commands
    assert commands <= set(get_commands())
    assert not re.search(r"(?<![\w/])python manage\.py", README), "a bare python has no Django"


def test_the_readme_usage_block_is_what_ci_runs():
    usage = block("Using the API", README)
    assert usage.count("curl ") >= 2
    assert "http://127.0.0.1:8000/api/v1/goals" in usage
    assert 'readme_block.py "Using the API"' in CI_RUN


def test_every_configuration_variable_in_the_readme_is_read_by_the_code():
    sources = (
        "\n".join(
            path.read_text()
            for pattern in ("delight/**/*.py", "accounts/**/*.py", "goals/**/*.py")
            for path in ROOT.glob(pattern)
        )
        + (ROOT / "Makefile").read_text()
        + (ROOT / "docker-compose.yml").read_text()
    )
    names = set(re.findall(r"\| `([A-Z][A-Z0-9_]+)`", README))
    assert "DATABASE_URL" in names
    for name in sorted(names):
        assert name in sources, name


def test_every_variable_the_settings_read_is_in_the_readme():
    source = (ROOT / "delight/settings.py").read_text()
    read = set(re.findall(r'env_(?:str|bool|int|list|seconds)\(\s*"([A-Z0-9_]+)"', source))
    assert "DJANGO_SECRET_KEY" in read
    missing = {name for name in read if f"`{name}`" not in README}
    assert not missing


@pytest.mark.parametrize(
    ("setting", "readme_default"),
    [("SECURE_HSTS_INCLUDE_SUBDOMAINS", True), ("SECURE_SSL_REDIRECT", False)],
)
def test_the_readme_states_the_https_defaults(setting, readme_default):
    # The suite runs with production defaults (DEBUG off, nothing set).
    assert getattr(settings, setting) is readme_default
    row = next(line for line in README.splitlines() if "DJANGO_HSTS_INCLUDE_SUBDOMAINS" in line)
    assert f"{settings.SECURE_HSTS_SECONDS} (a year) with `DEBUG` off / `1` / `0`" in row

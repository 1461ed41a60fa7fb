"""A fresh clone installs as a newcomer's machine does it, whatever the index has published since
the lock was made (issue: a new coverage release broke every `make test` before any test ran)."""

import ensurepip
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from scripts import check_install

ROOT = Path(__file__).resolve().parents[1]


def _clean_copy(destination: Path) -> Path:
    """What a clone of this tree would hold: tracked and new files, nothing ignored."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, listed):
        source = ROOT / os.fsdecode(name)
        if source.is_file():
            target = destination / os.fsdecode(name)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    return _clean_copy(tmp_path_factory.mktemp("clone"))


def _python3() -> str:
    # The interpreter a newcomer has: the one running the suite is the same Python 3.11.
    return sys._base_executable


def test_make_install_builds_the_venv_from_the_bundled_pip_and_the_lock_alone(clone):
    result = subprocess.run(
        ["make", "install", f"PYTHON={_python3()}"],
        cwd=clone,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "exactly as requirements/dev.txt pins them" in output
    venv_python = clone / ".venv" / "bin" / "python"
    pip = subprocess.run(
        [venv_python, "-m", "pip", "--version"], capture_output=True, text=True, check=True
    ).stdout
    # The starting point is the interpreter's own pip, not an upgraded one.
    assert pip.startswith(f"pip {ensurepip.version()} "), pip
    # The environment is the lock, re-checked from outside the install step.
    check = subprocess.run(
        [venv_python, "scripts/check_install.py", "requirements/dev.txt"],
        cwd=clone,
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stderr


def test_the_bootstrapped_uv_is_the_uv_the_lock_pins():
    def pin(path: str) -> str:
        return re.search(r"^uv==(\S+)", (ROOT / path).read_text(), re.MULTILINE)[1]

    assert pin("requirements/uv.txt") == pin("requirements/dev.txt")
    assert "--hash=sha256:" in (ROOT / "requirements/uv.txt").read_text()


def test_check_install_refuses_an_environment_the_lock_does_not_describe(tmp_path, capsys):
    installed = check_install.installed()
    name, version = sorted(installed.items())[0]
    lock = tmp_path / "lock.txt"
    lock.write_text(
        "".join(f"{other}=={v} \\\n    --hash=sha256:00\n" for other, v in installed.items())
    )
    assert check_install.main(str(lock)) == 0

    lock.write_text(lock.read_text().replace(f"{name}=={version}", f"{name}==0.0.0.dev0"))
    assert check_install.main(str(lock)) == 1
    assert f"{name}: {version} installed, 0.0.0.dev0 locked" in capsys.readouterr().err

    lock.write_text("".join(f"{other}=={v}\n" for other, v in installed.items() if other != name))
    assert check_install.main(str(lock)) == 1
    assert f"not in {lock}: {name}=={version}" in capsys.readouterr().err


def test_pip_install_dot_works_in_a_bare_virtualenv(clone, tmp_path):
    venv = tmp_path / "bare"
    subprocess.run([_python3(), "-m", "venv", venv], check=True, timeout=120)
    result = subprocess.run(
        [venv / "bin" / "python", "-m", "pip", "install", "-q", str(clone)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    probe = subprocess.run(
        [
            venv / "bin" / "python",
            "-c",
            "import importlib.resources as r, delight.settings as _s\n"
            "import accounts.management.commands.dev_token, goals.migrations\n"
            "assert r.files('delight').joinpath('templates/delight/index.html').is_file()\n"
            "assert r.files('delight').joinpath('static/delight/favicon.ico').is_file()\n"
            "print('ok')",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={  # production settings load from the wheel alone
            **os.environ,
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": "wheel-probe",
            "CLERK_JWKS_URL": "https://wheel-probe.invalid/jwks.json",
            "DATABASE_URL": "postgresql://localhost/unused",
        },
        check=False,
    )
    assert probe.stdout.strip() == "ok", probe.stderr[-3000:]

"""Fail unless this interpreter's environment holds exactly what a lock file pins.

    .venv/bin/python scripts/check_install.py requirements/dev.txt

Run by ``make install`` after ``uv pip sync``: a package the lock does not name, or one at
another version, means something was resolved outside the lock (and a fresh clone could get
something else tomorrow). The virtualenv's own seed packages (pip, setuptools) are not the
lock's business.
"""

import re
import sys
from importlib import metadata
from pathlib import Path

SEED_PACKAGES = {"pip", "setuptools"}
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned(lock: Path) -> dict[str, str]:
    pins = {}
    for line in lock.read_text().splitlines():
        match = _PIN.match(line)
        if match:
            pins[normalize(match[1])] = match[2]
    return pins


def installed() -> dict[str, str]:
    return {
        normalize(dist.metadata["Name"]): dist.version
        for dist in metadata.distributions()
        if normalize(dist.metadata["Name"]) not in SEED_PACKAGES
    }


def main(lock_path: str) -> int:
    pins, present = pinned(Path(lock_path)), installed()
    problems = [f"not in {lock_path}: {name}=={present[name]}" for name in present.keys() - pins]
    problems += [f"missing: {name}=={pins[name]}" for name in pins.keys() - present]
    problems += [
        f"{name}: {present[name]} installed, {pins[name]} locked"
        for name in pins.keys() & present.keys()
        if present[name] != pins[name]
    ]
    for problem in sorted(problems):
        print(f"check_install: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(f"check_install: {len(pins)} packages, exactly as {lock_path} pins them")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))

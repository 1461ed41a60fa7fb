"""The container's entry point and command, run outside Docker (no Docker engine on the CI
machines): it migrates, then execs the production server (python -m delight.serve), which serves
/healthz, /readyz, the docs and their static files."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url() -> str:
    settings = connection.settings_dict
    host = settings["HOST"]
    if host.startswith("/"):
        return f"postgresql://{settings['USER']}@/{settings['NAME']}?host={host}"
    return f"postgresql://{settings['USER']}:{settings['PASSWORD']}@{host}:{settings['PORT'] or 5432}/{settings['NAME']}"


@pytest.mark.django_db(transaction=True)
def test_entrypoint_migrates_and_serves_with_the_production_server():
    port = free_port()
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "DATABASE_URL": database_url(),
        "WEB_CONCURRENCY": "1",
        "PORT": str(port),
    }
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'CMD ["python", "-m", "delight.serve"]' in dockerfile  # the command run below
    process = subprocess.Popen(
        [str(ROOT / "docker" / "entrypoint.sh"), "python", "-m", "delight.serve"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
                break
            except requests.ConnectionError:  # not listening yet (a slow answer fails the test)
                assert process.poll() is None, process.stdout.read()
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        assert health.status_code == 200
        assert requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5).json() == {
            "status": "ok",
            "database": "ok",
        }
        docs = requests.get(f"http://127.0.0.1:{port}/docs", timeout=5)
        assert docs.status_code == 200
        assets = requests.get(
            f"http://127.0.0.1:{port}/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css",
            timeout=5,
        )
        assert assets.status_code == 200
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert "No migrations to apply" in output or "Applying" in output

"""A real gunicorn for the tests: the production config (gunicorn.conf.py) on a free port of
127.0.0.1, against the suite's database, with the suite's Clerk key (tests.environment)."""

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from tests.delight.test_entrypoint import database_url, free_port

ROOT = Path(__file__).resolve().parents[2]


class Gunicorn:
    def __init__(self, *, workers: int = 1, env: dict | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in close()
            prefix="gunicorn-", suffix=".log", delete=False
        )
        self.process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                *("delight.wsgi:application", "-c", "gunicorn.conf.py"),
                *("--bind", f"127.0.0.1:{self.port}", "--workers", str(workers)),
            ],
            cwd=ROOT,
            env={
                **os.environ,
                "DATABASE_URL": database_url(),
                "PYTHONDONTWRITEBYTECODE": "1",
                # tests.settings would make a new key pair in the server: the suite's key is in
                # the environment already (tests.environment).
                "DJANGO_SETTINGS_MODULE": "delight.settings",
                **(env or {}),
            },
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_until_up()

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(f"{self.url}/healthz", timeout=10)
                return
            except requests.RequestException:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"gunicorn did not start:\n{self.output()}") from None
                time.sleep(0.2)

    def output(self) -> str:
        return Path(self.log.name).read_text()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def close(self) -> None:
        self.stop()
        self.log.close()
        os.unlink(self.log.name)

"""The production server for the tests: ``python -m delight.serve`` (delight/serve.py) on a free
port of 127.0.0.1, against the suite's database, with the suite's Clerk key (tests.environment).

Every test that needs the service over real HTTP, as deployed, starts it here: the hardening,
observability and erasure tests, the browser tests, the entry point's.
"""

import json
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


class Server:
    """``python -m delight.serve`` with ``workers`` worker processes; ``env`` on top of the
    suite's environment. Waits until ``ready`` answers (``/readyz``: the database too).

    ``log`` keeps the server's output in that file (else a temporary one, removed on close).
    """

    def __init__(
        self,
        *,
        workers: int = 1,
        env: dict | None = None,
        log: Path | None = None,
        ready: str = "/healthz",
        command: list[str] | None = None,
    ):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.own_log = log is None
        if log is None:
            handle, name = tempfile.mkstemp(prefix="delight-serve-", suffix=".log")
            os.close(handle)
            log = Path(name)
        self.log = log
        with self.log.open("wb") as output:
            self.process = subprocess.Popen(
                command or [sys.executable, "-m", "delight.serve"],
                cwd=ROOT,
                env={
                    **os.environ,
                    "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
                    "DATABASE_URL": database_url(),
                    "PYTHONDONTWRITEBYTECODE": "1",
                    # tests.settings would make a new key pair in the server: the suite's key is
                    # in the environment already (tests.environment).
                    "DJANGO_SETTINGS_MODULE": "delight.settings",
                    "DJANGO_LOG_FORMAT": "json",
                    "WEB_CONCURRENCY": str(workers),
                    **(env or {}),
                    "PORT": str(self.port),
                },
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stopped whole, by its id
            )
        self._wait_until(ready)

    def _wait_until(self, path: str) -> None:
        deadline = time.monotonic() + 90
        while True:
            try:
                if requests.get(f"{self.url}{path}", timeout=10).status_code == 200:
                    return
            except requests.RequestException:
                pass  # not listening yet, or the workers are still loading Django
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"delight.serve did not start:\n{self.output()[-5000:]}")
            time.sleep(0.2)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def records(self) -> list[dict]:
        """Every line of the output, parsed (each must be JSON)."""
        return [json.loads(line) for line in self.output().splitlines() if line.strip()]

    def workers(self) -> list[int]:
        """The worker processes running now."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]

    def signal(self, sig: int) -> None:
        """``sig`` to the main process only, as an orchestrator sends it."""
        self.process.send_signal(sig)

    def stop(self, timeout: float = 60) -> int:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        return self.process.returncode

    def close(self) -> None:
        self.stop()
        if self.own_log:
            self.log.unlink(missing_ok=True)

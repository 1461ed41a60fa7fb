"""An erased user is refused by every worker process, not only by the one that erased them
(issue #14): a real gunicorn with three sync workers, each of which has the user in its cache
before the ``user.deleted`` webhook reaches one of them.

Which worker answered each request is written by a ``post_request`` hook of a test-only gunicorn
config (the project's own config, plus that hook), so the test knows that every worker served
the user before the erasure and refused them after it. Both ways processes share the notice
are run: files on the host (no REDIS_URL) and Redis.
"""

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests
from django.contrib.auth import get_user_model

from tests import clerk_events
from tests.delight.test_entrypoint import database_url, free_port
from tests.delight.test_throttling import redis_available
from tests.factories import GoalFactory, UserFactory
from tests.tokens import make_token

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 3
GOALS = "/api/v1/goals"

HOOK = """
exec(open({config!r}).read())


def post_request(worker, req, environ, resp):
    with open({log!r}, "a") as log:
        log.write(f"{{worker.pid}} {{req.path}} {{resp.status.split()[0]}}\\n")
"""


class Gunicorn:
    def __init__(self, tmp_path: Path, env: dict):
        self.port = free_port()
        self.log = tmp_path / "requests.log"
        self.log.touch()
        config = tmp_path / "gunicorn_test.conf.py"
        config.write_text(HOOK.format(config=str(ROOT / "gunicorn.conf.py"), log=str(self.log)))
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("gunicorn")),
                "delight.wsgi:application",
                "--config",
                str(config),
            ],
            cwd=ROOT,
            env={**os.environ, **env, "PORT": str(self.port), "WEB_CONCURRENCY": str(WORKERS)},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(f"{self.url}/healthz", timeout=5)
                break
            except (requests.ConnectionError, requests.Timeout):  # workers still booting
                assert self.process.poll() is None, self.process.stdout.read()
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.2)

    def answers(self) -> list[tuple[str, str, str]]:
        return [tuple(line.split()) for line in self.log.read_text().splitlines()]

    def stop(self) -> str:
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            output, _ = self.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:  # never leave workers behind on a loaded machine
            os.killpg(self.process.pid, signal.SIGKILL)
            output, _ = self.process.communicate(timeout=30)
        return output


def until_every_worker_answered(server: Gunicorn, token: str, *, since: int) -> dict[str, set]:
    """Send the token from six threads until each worker has answered it (300 requests at most);
    the statuses each worker gave, counting only log lines after ``since``."""

    def call():
        requests.get(
            f"{server.url}{GOALS}", headers={"Authorization": f"Bearer {token}"}, timeout=30
        )

    for _ in range(50):
        threads = [threading.Thread(target=call) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        by_worker: dict[str, set] = {}
        for pid, path, status in server.answers()[since:]:
            if path == GOALS:
                by_worker.setdefault(pid, set()).add(status)
        if len(by_worker) == WORKERS:
            return by_worker
    raise AssertionError(f"not every worker answered: {by_worker}")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("shared_by", ["files", "redis"])
def test_every_worker_refuses_an_erased_user(tmp_path, shared_by):
    if shared_by == "redis" and not redis_available():
        pytest.skip("no Redis on 127.0.0.1:6379")
    secret = clerk_events.new_secret()
    env = {
        # delight.settings, not the suite's (which would make a new key pair in each process).
        "DJANGO_SETTINGS_MODULE": "delight.settings",
        "DATABASE_URL": database_url(),
        "CLERK_WEBHOOK_SIGNING_SECRET": secret,
        "RATE_LIMIT_ANON_PER_MINUTE": "100000",
    }
    if shared_by == "redis":
        env["REDIS_URL"] = "redis://127.0.0.1:6379/15"
    else:
        env["CLERK_REVOCATIONS_DIR"] = str(tmp_path / "revocations")
    clerk_id = f"user_{uuid.uuid4().hex[:16]}"  # a Redis mark of an earlier run cannot match
    person = UserFactory(clerk_user_id=clerk_id)
    GoalFactory.create_batch(3, user=person)
    token = make_token(clerk_id, exp=int(time.time()) + 600)
    server = Gunicorn(tmp_path, env)
    try:
        before = until_every_worker_answered(server, token, since=0)
        assert all(statuses == {"200"} for statuses in before.values()), before
        # Every worker has the user in its cache now. One of them gets the erasure.
        body = clerk_events.user_deleted(clerk_id)
        delivered = requests.post(
            f"{server.url}{clerk_events.WEBHOOK_URL}",
            data=body,
            headers={
                **clerk_events.http_headers(clerk_events.headers(secret, body)),
                "content-type": "application/json",
            },
            timeout=30,
        )
        assert delivered.json() == {"status": "processed"}, delivered.text
        erased_at = len(server.answers())
        after = until_every_worker_answered(server, token, since=erased_at)
        assert after == {pid: {"401"} for pid in after}, after
        refused = requests.get(
            f"{server.url}{GOALS}", headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        assert refused.json() == {"detail": "This account has been deleted."}
    finally:
        output = server.stop()
    assert not get_user_model().objects.filter(clerk_user_id=clerk_id).exists(), output

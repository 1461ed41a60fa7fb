"""An erased user is refused by every worker process, not only by the one that erased them
(issue #14): the production server (python -m delight.serve, tests/ops/servers.py) with three
worker processes, each of which has the user in its cache before the ``user.deleted`` webhook
reaches one of them.

Which worker answered each request is the ``pid`` of its JSON access line, so the test knows
that every worker served the user before the erasure and refused them after it. Both ways
processes share the notice are run: files on the host (no REDIS_URL) and Redis.
"""

import threading
import time
import uuid

import pytest
import requests
from django.contrib.auth import get_user_model

from tests import clerk_events
from tests.delight.test_throttling import redis_available
from tests.factories import GoalFactory, UserFactory
from tests.ops.servers import Server
from tests.tokens import make_token

WORKERS = 3
GOALS = "/api/v1/goals"


def answers(server: Server) -> list[tuple[str, str, str]]:
    """(worker pid, route, status) of every request the server has answered, in order."""
    return [
        (str(r["pid"]), r["http"]["route"], str(r["http"]["status"]))
        for r in server.records()
        if r["logger"] == "delight.request"
    ]


def until_every_worker_answered(server: Server, token: str, *, since: int) -> dict[str, set]:
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
        for pid, path, status in answers(server)[since:]:
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
    server = Server(workers=WORKERS, env=env)
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
        erased_at = len(answers(server))
        after = until_every_worker_answered(server, token, since=erased_at)
        assert after == {pid: {"401"} for pid in after}, after
        refused = requests.get(
            f"{server.url}{GOALS}", headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        assert refused.json() == {"detail": "This account has been deleted."}
    finally:
        output = server.output()
        server.close()
    assert not get_user_model().objects.filter(clerk_user_id=clerk_id).exists(), output

"""How an erasure reaches the other processes (accounts.revocations), and what happens when the
way it travels is broken: the database decides, and Svix is asked to retry the announcement."""

import os
import time
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from accounts import revocations
from accounts.revocations import FileRevocations, RedisRevocations, default_directory
from tests import clerk_events
from tests.accounts.test_webhooks import deliver
from tests.delight.test_throttling import redis_available
from tests.factories import UserFactory
from tests.tokens import make_token

pytestmark = pytest.mark.django_db


def test_a_mark_is_seen_by_another_store_on_the_same_directory(tmp_path):
    one, other = FileRevocations(tmp_path / "r", ttl=300), FileRevocations(tmp_path / "r", ttl=300)
    assert other.is_revoked("user_a") is False
    one.publish("user_a")
    assert other.is_revoked("user_a") is True
    assert other.is_revoked("user_b") is False
    # Only a digest of the id is on disk.
    assert "user_a" not in "".join(path.name for path in (tmp_path / "r").iterdir())


def test_marks_expire_and_old_ones_are_pruned(tmp_path):
    store = FileRevocations(tmp_path / "r", ttl=300)
    store.publish("user_old")
    old = time.time() - 301
    (mark,) = (tmp_path / "r").iterdir()
    os.utime(mark, (old, old))
    assert store.is_revoked("user_old") is False
    store.publish("user_new")  # publishing prunes the expired marks
    assert [path.name for path in (tmp_path / "r").iterdir()] == [revocations._digest("user_new")]


def test_a_directory_others_may_write_in_is_not_trusted(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    store = FileRevocations(shared, ttl=300)
    assert store.is_revoked("user_a") is None  # not an answer: the caller asks the database
    with pytest.raises(OSError, match="not private"):
        store.publish("user_a")


def test_the_default_directory_is_private_to_the_user_and_the_database():
    directory = default_directory()
    assert f"-{os.getuid()}-" in directory.name
    store = FileRevocations(directory, ttl=300)
    try:
        assert store.is_revoked("user_nobody") is False
        assert (directory.stat().st_mode & 0o777) == 0o700
    finally:
        if directory.exists() and not any(directory.iterdir()):
            directory.rmdir()


@pytest.mark.skipif(not redis_available(), reason="no Redis on 127.0.0.1:6379")
def test_redis_marks_are_shared_by_every_client():
    one = RedisRevocations("redis://127.0.0.1:6379/15", ttl=300)
    other = RedisRevocations("redis://127.0.0.1:6379/15", ttl=300)
    clerk_id = f"user_{time.time_ns()}"
    assert other.is_revoked(clerk_id) is False
    one.publish(clerk_id)
    assert other.is_revoked(clerk_id) is True
    assert 0 < one.client.ttl(revocations.KEY_PREFIX + revocations._digest(clerk_id)) <= 300


def test_an_unreachable_redis_is_skipped_for_a_while():
    store = RedisRevocations("redis://127.0.0.1:9/0", ttl=300)  # nothing listens on discard
    assert store.is_revoked("user_a") is None
    started = time.monotonic()
    assert store.is_revoked("user_a") is None  # not tried again for BACKOFF_SECONDS
    assert time.monotonic() - started < 0.05


def test_with_redis_down_the_database_decides_and_svix_retries_the_announcement(settings):
    settings.CLERK_WEBHOOK_SIGNING_SECRET = secret = clerk_events.new_secret()
    UserFactory(clerk_user_id="user_ada")
    UserFactory(clerk_user_id="user_bob")
    ada = APIClient(HTTP_AUTHORIZATION=f"Bearer {make_token('user_ada')}")
    bob = APIClient(HTTP_AUTHORIZATION=f"Bearer {make_token('user_bob')}")
    assert ada.get("/api/v1/goals").status_code == 200
    settings.REDIS_URL = "redis://127.0.0.1:9/0"
    body = clerk_events.user_deleted("user_ada")
    response = deliver(secret, body, msg_id="msg_redis_down")
    # Erased for good in the database, but the other processes could not be told: 503, so
    # Svix delivers again.
    assert response.status_code == 503
    assert response["Retry-After"]
    assert not get_user_model().objects.filter(clerk_user_id="user_ada").exists()
    # Meanwhile no cache is trusted: the database refuses Ada and still knows Bob.
    assert ada.get("/api/v1/goals").status_code == 401
    assert bob.get("/api/v1/goals").status_code == 200
    if redis_available():
        settings.REDIS_URL = "redis://127.0.0.1:6379/15"
        retry = deliver(secret, body, msg_id="msg_redis_down")
        assert retry.json() == {"status": "already processed"}
        assert revocations.store().is_revoked("user_ada") is True


def test_the_suite_uses_a_private_directory_of_its_own(settings):
    assert Path(settings.CLERK_REVOCATIONS_DIR).is_dir()
    assert revocations.store().directory == Path(settings.CLERK_REVOCATIONS_DIR)

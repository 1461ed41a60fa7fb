"""Rate limits: per user, and per client address for requests without valid credentials."""

import pytest
from rest_framework.test import APIClient

from delight import throttling
from tests.conftest import client_for
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

GOALS = "/api/v1/goals"


def test_a_user_over_the_limit_gets_429_with_retry_after(settings, api, bob_api):
    settings.RATE_LIMIT_USER_PER_MINUTE = 3
    assert [api.get(GOALS).status_code for _ in range(3)] == [200, 200, 200]
    response = api.get(GOALS)
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert set(response.json()) == {"detail"}
    assert bob_api.get(GOALS).status_code == 200  # limits are per user


def test_requests_without_valid_credentials_are_limited_per_address(settings, alice):
    settings.RATE_LIMIT_ANON_PER_MINUTE = 2
    anonymous = APIClient(REMOTE_ADDR="203.0.113.7")
    bad_token = APIClient(REMOTE_ADDR="203.0.113.7")
    bad_token.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    assert anonymous.get(GOALS).status_code == 401
    assert bad_token.get(GOALS).status_code == 401
    limited = bad_token.get(GOALS)
    assert limited.status_code == 429
    assert limited["Retry-After"]
    assert APIClient(REMOTE_ADDR="198.51.100.1").get(GOALS).status_code == 401  # another address
    # A valid token from the same address is not limited by the address's failures.
    valid = client_for(alice)
    valid.defaults["REMOTE_ADDR"] = "203.0.113.7"
    assert valid.get(GOALS).status_code == 200


def test_behind_a_proxy_the_forwarded_address_counts(settings, rf):
    """From a trusted proxy (FORWARDED_ALLOW_IPS); other peers: tests/ops/test_server_hardening.py."""
    settings.BEHIND_PROXY = True
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    request = rf.get("/", HTTP_X_FORWARDED_FOR="198.51.100.9, 203.0.113.50", REMOTE_ADDR="10.0.0.1")
    assert throttling.client_address(request) == "203.0.113.50"
    settings.BEHIND_PROXY = False
    assert throttling.client_address(request) == "10.0.0.1"


def test_an_unreachable_cache_lets_requests_through(settings, api):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",  # nothing listens there
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    assert api.get(GOALS).status_code == 200


def test_an_unreachable_redis_lets_requests_through_and_is_not_asked_again_at_once(
    settings, api, caplog
):
    """A Redis that hangs would otherwise cost its timeout on every request."""
    settings.REDIS_URL = "redis://127.0.0.1:9/0"  # nothing listens there
    throttling.redis_counter.cache_clear()
    try:
        assert [api.get(GOALS).status_code for _ in range(3)] == [200, 200, 200]
    finally:
        throttling.redis_counter.cache_clear()
    unavailable = [r for r in caplog.records if "rate limit store unavailable" in r.getMessage()]
    assert len(unavailable) == 1  # asked once; the next requests skipped it (the backoff)


def redis_available() -> bool:
    import redis

    try:
        return redis.Redis.from_url("redis://127.0.0.1:6379/15", socket_connect_timeout=0.5).ping()
    except redis.RedisError:
        return False


@pytest.mark.skipif(not redis_available(), reason="no Redis on 127.0.0.1:6379")
def test_with_redis_the_count_is_shared_by_processes(settings):
    """The count lives in Redis (REDIS_URL), where every worker and replica counts: another
    client of the same Redis sees it."""
    settings.REDIS_URL = "redis://127.0.0.1:6379/15"
    settings.RATE_LIMIT_USER_PER_MINUTE = 4
    throttling.redis_counter.cache_clear()
    import redis

    other_process = redis.Redis.from_url("redis://127.0.0.1:6379/15")
    other_process.flushdb()
    user = UserFactory()
    worker_a, worker_b = client_for(user), client_for(user)
    statuses = [
        client.get(GOALS).status_code for client in (worker_a, worker_b, worker_a, worker_b)
    ]
    assert statuses == [200, 200, 200, 200]
    keys = other_process.keys("ratelimit:user:*")
    assert len(keys) == 1
    assert int(other_process.get(keys[0])) == 4
    assert 0 < other_process.ttl(keys[0]) <= throttling.WINDOW_SECONDS + 5  # the window expires
    assert worker_b.get(GOALS).status_code == 429
    other_process.flushdb()
    throttling.redis_counter.cache_clear()

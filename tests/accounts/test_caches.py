"""The per-process caches of accounts are bounded in size and in age (issue #12, item 7).

10,000 distinct users used to leave 10,000 entries in every worker for ever; now an entry leaves
when it expires, and no cache holds more than its cap, whatever the traffic.
"""

import time

import pytest

from accounts import clerk, services
from accounts.ttlcache import TTLCache
from tests.accounts.test_authentication import get
from tests.tokens import make_token

pytestmark = pytest.mark.django_db


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_ten_thousand_expired_entries_do_not_stay():
    clock = FakeClock()
    cache = TTLCache(max_entries=100_000, ttl=30, clock=clock)
    for n in range(10_000):
        cache.put(f"user_{n}", n)
    assert len(cache) == 10_000
    clock.now += 31
    cache.put("user_next", "x")
    assert len(cache) == 1
    assert cache.get("user_0") is None
    assert cache.get("user_next") == "x"


def test_an_expired_entry_is_never_returned():
    clock = FakeClock()
    cache = TTLCache(max_entries=10, ttl=30, clock=clock)
    cache.put("a", 1)
    clock.now += 29.9
    assert cache.get("a") == 1
    clock.now += 0.2
    assert cache.get("a") is None
    assert len(cache) == 0


def test_the_cap_holds_however_many_keys_arrive():
    cache = TTLCache(max_entries=100, ttl=3600, clock=FakeClock())
    for n in range(1_000):
        cache.put(n, n)
    assert len(cache) == 100
    assert cache.get(999) == 999  # the newest stay; the oldest went first
    assert cache.get(0) is None


def test_putting_a_key_again_renews_it():
    clock = FakeClock()
    cache = TTLCache(max_entries=10, ttl=30, clock=clock)
    cache.put("a", 1)
    clock.now += 20
    cache.put("a", 2)
    clock.now += 20
    assert cache.get("a") == 2
    assert len(cache) == 1


def test_known_users_cache_is_capped(settings):
    settings.CLERK_USER_CACHE_MAX_ENTRIES = 20
    for n in range(30):
        assert get(make_token(f"user_many_{n}")).status_code == 200
    assert len(services._known_users()) == 20


def test_known_users_leave_the_cache_when_they_expire(settings):
    settings.CLERK_USER_CACHE_SECONDS = 1
    for n in range(15):
        assert get(make_token(f"user_brief_{n}")).status_code == 200
    assert len(services._known_users()) == 15
    time.sleep(1.1)
    assert get(make_token("user_after")).status_code == 200
    assert len(services._known_users()) == 1


def test_verified_token_cache_is_capped_and_expires(settings):
    settings.CLERK_TOKEN_CACHE_MAX_ENTRIES = 10
    settings.CLERK_TOKEN_CACHE_SECONDS = 1
    for n in range(25):
        clerk.verify(make_token(f"user_tok_{n}"))
    assert len(clerk._verified_tokens()) == 10
    time.sleep(1.1)
    clerk.verify(make_token("user_tok_late"))
    assert len(clerk._verified_tokens()) == 1

"""The per-process caches of accounts are bounded in size and in age (issue #12, item 7).

10,000 distinct users used to leave 10,000 entries in every worker for ever; now an entry leaves
when it expires, and no cache holds more than its cap, whatever the traffic. Both are
cachetools' TTLCache, each used under a lock (cachetools' caches are not thread-safe).
"""

import random
import sys
import threading
import time

import pytest

from accounts import clerk, services
from tests.accounts.test_authentication import get
from tests.tokens import make_token

pytestmark = pytest.mark.django_db


def test_ten_thousand_expired_users_do_not_stay(settings):
    settings.CLERK_USER_CACHE_MAX_ENTRIES = 100_000
    settings.CLERK_USER_CACHE_SECONDS = 1
    for n in range(10_000):
        services._remember_user(f"user_{n}", n)
    assert len(services._known_users()) == 10_000
    time.sleep(1.1)
    services._remember_user("user_next", "x")
    assert len(services._known_users()) == 1
    assert services._remembered_user("user_0") is None
    assert services._remembered_user("user_next") == "x"


def test_the_cap_holds_however_many_users_arrive(settings):
    settings.CLERK_USER_CACHE_MAX_ENTRIES = 100
    for n in range(1_000):
        services._remember_user(f"user_{n}", n)
    assert len(services._known_users()) == 100
    assert services._remembered_user("user_999") == 999  # the newest stay; the oldest went first
    assert services._remembered_user("user_0") is None


def _hammer(use, *, threads: int = 8, rounds: int = 2_000) -> list[str]:
    """Run ``use(key, round)`` from several threads at once, switching threads as often as the
    interpreter allows; the errors they met."""
    errors = []

    def work(seed: int) -> None:
        rnd = random.Random(seed)
        try:
            for n in range(rounds):
                use(rnd.randrange(64), n)
        except Exception as exc:  # what a corrupted cache raises varies
            errors.append(repr(exc))

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        workers = [threading.Thread(target=work, args=(seed,)) for seed in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    finally:
        sys.setswitchinterval(interval)
    return errors


def test_the_known_users_cache_is_safe_across_threads(settings):
    """cachetools' caches are not thread-safe: unlocked, this corrupts it (KeyError,
    AttributeError from its links) within a few hundred operations."""
    settings.CLERK_USER_CACHE_MAX_ENTRIES = 16  # evictions all the time

    def use(key: int, n: int) -> None:
        services._remembered_user(f"user_{key}")
        services._remember_user(f"user_{key}", n)
        if n % 7 == 0:
            services.forget_user(f"user_{key}")

    assert _hammer(use) == []
    assert len(services._known_users()) <= 16
    list(services._known_users().items())  # still whole


def test_the_verified_token_cache_is_safe_across_threads(settings):
    settings.CLERK_TOKEN_CACHE_MAX_ENTRIES = 16
    tokens = [make_token(f"user_threads_{n}") for n in range(64)]

    def use(key: int, n: int) -> None:
        assert clerk.verify(tokens[key]).sub == f"user_threads_{key}"

    assert _hammer(use, rounds=300) == []
    assert len(clerk._verified_tokens()) <= 16
    list(clerk._verified_tokens().items())


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

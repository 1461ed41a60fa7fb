"""Rate limits, counted in the default cache (Redis with REDIS_URL: shared by every worker
process; in-process memory otherwise).

- Per user: ``RATE_LIMIT_USER_PER_MINUTE`` requests a minute for each authenticated user.
- Per client address: ``RATE_LIMIT_ANON_PER_MINUTE`` requests a minute without valid credentials
  (counted when authentication fails, so a valid token is never limited by its address).

Fixed one-minute windows (one atomic ``INCR`` per request): a client can burst up to twice the
limit across a window boundary, which is fine for abuse protection; exact quotas belong to the
proxy in front (which should limit too: it sees every request before Python does).
If the cache is unreachable, requests are let through (logged), never failed.
"""

import logging
import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60


def hit(key: str, limit: int) -> float | None:
    """Count one request against ``key``; the seconds to wait when over ``limit``, else None."""
    now = time.time()
    window = int(now // WINDOW_SECONDS)
    cache_key = f"ratelimit:{key}:{window}"
    try:
        # add() creates the window's counter; incr() is atomic in Redis.
        count = 1 if cache.add(cache_key, 1, timeout=WINDOW_SECONDS + 5) else cache.incr(cache_key)
    except Exception:  # a broken cache must not break the API
        logger.warning("rate limit cache unavailable; request let through", exc_info=True)
        return None
    if count <= limit:
        return None
    return (window + 1) * WINDOW_SECONDS - now


def client_address(request) -> str:
    """The caller's address: the socket peer, or behind our proxy the address it appended last."""
    if settings.BEHIND_PROXY:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return forwarded.split(",")[-1].strip()[:64]
    return request.META.get("REMOTE_ADDR", "")[:64]


class UserRateThrottle(BaseThrottle):
    """DRF throttle: authenticated users only (unauthenticated requests fail before it matters)."""

    def allow_request(self, request, view) -> bool:
        user = request.user
        if not user.is_authenticated:
            return True
        self._wait = hit(f"user:{user.pk}", settings.RATE_LIMIT_USER_PER_MINUTE)
        return self._wait is None

    def wait(self) -> float | None:
        return self._wait


def anonymous_wait(request) -> float | None:
    """Count a request whose credentials were missing or invalid; the wait when over the limit."""
    return hit(f"addr:{client_address(request)}", settings.RATE_LIMIT_ANON_PER_MINUTE)

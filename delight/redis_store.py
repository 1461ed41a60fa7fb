"""A raw Redis client (``REDIS_URL``) for what every request reads or counts: the rate limits
(delight.throttling) and the erased users (accounts.revocations).

Raw, not Django's cache API, which versions, prefixes and pickles, and takes more round trips
(docs/RELIABILITY.md, "Rate limits"). Guarded: after an error, ``call`` answers ``None`` for
``BACKOFF_SECONDS`` without asking, so a Redis that hangs costs one timeout, not one per
request; each caller decides what ``None`` means (let the request through, ask the database).
"""

import logging
import time

logger = logging.getLogger(__name__)


class GuardedRedis:
    BACKOFF_SECONDS = 5.0

    def __init__(self, url: str):
        import redis

        self.client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        self._skip_until = 0.0

    def call(self, operation, *, unavailable: str):
        """``operation(client)``, or ``None`` (logging ``unavailable``) when Redis cannot answer."""
        if time.monotonic() < self._skip_until:
            return None
        try:
            return operation(self.client)
        except Exception:  # a broken Redis must not break the request
            self._skip_until = time.monotonic() + self.BACKOFF_SECONDS
            logger.warning(unavailable, exc_info=True)
            return None

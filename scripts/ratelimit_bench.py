"""One rate-limit count against Redis, two ways, interleaved (docs/RELIABILITY.md, "Rate limits").

    .venv/bin/python scripts/ratelimit_bench.py [--url redis://127.0.0.1:6379/14] [--counts 20000]

Django's cache API (``add``, then ``incr``: what delight.throttling did) against the one
pipeline delight.throttling.RedisCounter sends. Uses (and empties) the given Redis database.
"""

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--counts", type=int, default=20_000)
    args = parser.parse_args()
    os.environ.update(
        DJANGO_SETTINGS_MODULE="delight.settings",
        DJANGO_DEBUG="1",
        REDIS_URL=args.url,
        DATABASE_URL="postgresql://nobody@127.0.0.1:9/none",  # never connected to
    )
    import django

    django.setup()
    from django.core.cache import cache

    from delight.throttling import RedisCounter

    counter = RedisCounter(args.url)

    def cache_api() -> int:
        return 1 if cache.add("bench:cache", 1, timeout=65) else cache.incr("bench:cache")

    def pipeline() -> int:
        return counter.count("bench:pipeline", 65)

    for name, count in [("cache API", cache_api), ("pipeline", pipeline)] * 2:
        for _ in range(500):
            count()
        started = time.perf_counter()
        for _ in range(args.counts):
            count()
        print(f"{name:10s} {(time.perf_counter() - started) / args.counts * 1e6:7.1f} µs a count")
    counter.redis.client.flushdb()


if __name__ == "__main__":
    main()

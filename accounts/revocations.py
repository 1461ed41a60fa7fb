"""How one process tells every other that a Clerk user was erased (issue #14).

Each process keeps the users it knows for ``CLERK_USER_CACHE_SECONDS`` (accounts.services), so
that an authenticated request costs no query. When a ``user.deleted`` webhook erases a user in
one worker process, the others would go on accepting that user's still-valid session token from
their cache. So the erasing process *publishes* the erasure here, and every authentication looks
here before it trusts its cache:

- with ``REDIS_URL``: a key in Redis (one EXISTS per authenticated request, shared by every
  process of every replica);
- without: one empty file per erased user in a private directory (one ``stat()`` per request,
  shared by every process on the host: all of the server's workers). Several hosts without Redis
  do not share it; the contract asks for Redis there (README, "Deployment").

A mark lives ``ttl`` seconds, longer than any cache entry made before the erasure can live; after
that, the user's row is simply gone and the database's tombstone refuses them (one query, on a
cache miss only). When the store cannot answer, ``is_revoked`` says ``None``: the caller then
asks the database, which is always right.

Only a digest of the Clerk id is stored (no personal data), and nothing is ever unpickled: a mark
is a key's or a file's existence, never its content.
"""

import hashlib
import logging
import os
import stat
import tempfile
import time
from functools import cache
from pathlib import Path

from django.conf import settings
from django.core.signals import setting_changed
from django.db import connection

from delight.redis_store import GuardedRedis

logger = logging.getLogger(__name__)

KEY_PREFIX = "accounts:erased:"


def _digest(clerk_user_id: str) -> str:
    return hashlib.sha256(clerk_user_id.encode()).hexdigest()


class RedisRevocations:
    """Marks as Redis keys (``REDIS_URL``), read with one ``EXISTS`` on a raw client (a third of
    the time of Django's cache API); after a Redis error authentication asks the database for
    a while (delight.redis_store)."""

    def __init__(self, url: str, *, ttl: float):
        self.redis = GuardedRedis(url)
        self.ttl = ttl

    @property
    def client(self):
        return self.redis.client

    def publish(self, clerk_user_id: str) -> None:
        self.client.set(KEY_PREFIX + _digest(clerk_user_id), 1, ex=int(self.ttl))

    def is_revoked(self, clerk_user_id: str) -> bool | None:
        key = KEY_PREFIX + _digest(clerk_user_id)
        found = self.redis.call(
            lambda client: client.exists(key), unavailable="revocation store (Redis) unavailable"
        )
        return None if found is None else bool(found)

    def clear(self) -> None:
        """Nothing to do: marks expire, and each test uses its own Clerk ids with Redis."""


class FileRevocations:
    """Marks as empty files, ``<directory>/<sha256 of the Clerk id>``, their age the mtime."""

    def __init__(self, directory: Path, *, ttl: float):
        self.directory = directory
        self.ttl = ttl
        self._usable: bool | None = None
        self._prefix = f"{directory}{os.sep}"  # os.stat on a str: pathlib costs more than stat

    def publish(self, clerk_user_id: str) -> None:
        if not self._ready():
            raise OSError(f"revocation directory {self.directory} is not private to this user")
        path = self.directory / _digest(clerk_user_id)
        path.touch(mode=0o600)
        os.utime(path)  # a second erasure of the same id renews the mark
        self._prune()

    def is_revoked(self, clerk_user_id: str) -> bool | None:
        if not self._ready():
            return None
        try:
            marked = os.stat(self._prefix + _digest(clerk_user_id)).st_mtime
        except FileNotFoundError:
            return False
        except OSError:
            return None
        return time.time() - marked < self.ttl

    def clear(self) -> None:
        if self.directory.is_dir():
            for path in self.directory.iterdir():
                path.unlink(missing_ok=True)

    def _ready(self) -> bool:
        """The directory exists, belongs to this user and nobody else may write in it (a mark
        another local user could plant or remove would be theirs to decide). Checked once."""
        if self._usable is None:
            try:
                self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
                info = os.lstat(self.directory)
                self._usable = (
                    stat.S_ISDIR(info.st_mode)
                    and info.st_uid == os.getuid()
                    and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
                )
            except OSError:
                self._usable = False
            if not self._usable:
                logger.error(
                    "revocation directory %s is unusable; every authentication asks the "
                    "database instead",
                    self.directory,
                )
        return self._usable

    def _prune(self) -> None:
        cutoff = time.time() - self.ttl
        for path in self.directory.iterdir():
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink(missing_ok=True)
            except OSError:
                pass  # another process pruned it first


def default_directory() -> Path:
    """Private to this OS user and this database, so a test run, a development server and a
    production service on one machine never read each other's marks."""
    db = connection.settings_dict
    where = f"{db['HOST']}:{db['PORT']}/{db['NAME']}"
    name = f"delight-erased-users-{os.getuid()}-{hashlib.sha256(where.encode()).hexdigest()[:16]}"
    return Path(tempfile.gettempdir()) / name


@cache
def store() -> RedisRevocations | FileRevocations:
    # Longer than any cache entry made before an erasure can live (and five minutes at least).
    ttl = max(300.0, 2.0 * settings.CLERK_USER_CACHE_SECONDS)
    if settings.REDIS_URL:
        return RedisRevocations(settings.REDIS_URL, ttl=ttl)
    directory = settings.CLERK_REVOCATIONS_DIR
    return FileRevocations(Path(directory) if directory else default_directory(), ttl=ttl)


def _reset(*, setting: str, **kwargs) -> None:
    if setting in {"REDIS_URL", "CLERK_REVOCATIONS_DIR", "CLERK_USER_CACHE_SECONDS"}:
        store.cache_clear()


setting_changed.connect(_reset)

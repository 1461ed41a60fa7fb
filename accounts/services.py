"""Finding the local account behind a Clerk user id."""

import hashlib
import threading
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.signals import setting_changed
from django.db.models.signals import post_delete, post_save

_cache: dict[str, tuple[object, float]] = {}
_cache_lock = threading.Lock()


def username_for(clerk_user_id: str) -> str:
    """Django's username (150 characters at most) for a Clerk user: the id itself when it fits."""
    if len(clerk_user_id) <= 150:
        return clerk_user_id
    return "clerk-" + hashlib.sha256(clerk_user_id.encode()).hexdigest()


def user_for_clerk_id(clerk_user_id: str):
    """The account for ``clerk_user_id``, created on first sight.

    Race-safe: concurrent first requests rely on the unique constraint on ``clerk_user_id``
    (``get_or_create`` retries the read after an ``IntegrityError``). Known users are remembered
    for ``CLERK_USER_CACHE_SECONDS``, so an authenticated request usually costs no query; a user
    deleted or deactivated elsewhere is noticed within that time (at once in this process).
    """
    now = time.monotonic()
    hit = _cache.get(clerk_user_id)
    if hit is not None and hit[1] > now:
        return hit[0]
    user, _ = get_user_model().objects.get_or_create(
        clerk_user_id=clerk_user_id,
        defaults={"username": username_for(clerk_user_id), "password": make_password(None)},
    )
    with _cache_lock:
        _cache[clerk_user_id] = (user, now + settings.CLERK_USER_CACHE_SECONDS)
    return user


def forget_user(clerk_user_id: str | None) -> None:
    if clerk_user_id:
        with _cache_lock:
            _cache.pop(clerk_user_id, None)


def clear_user_cache(**kwargs) -> None:
    with _cache_lock:
        _cache.clear()


def _forget_changed_user(sender, instance, **kwargs) -> None:
    forget_user(instance.clerk_user_id)


post_save.connect(_forget_changed_user, sender=settings.AUTH_USER_MODEL)
post_delete.connect(_forget_changed_user, sender=settings.AUTH_USER_MODEL)
setting_changed.connect(clear_user_cache)

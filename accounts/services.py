"""The local account behind a Clerk user id: found, created, kept in sync, erased.

Who writes a Clerk user's row:

- the first request with a valid token for a new ``sub`` creates it (``user_for_clerk_id``);
- Clerk's ``user.created`` / ``user.updated`` webhooks upsert it (``clerk_user_sync``);
- ``user.deleted`` erases it and all its goals, and leaves a tombstone (``clerk_user_erase``).

The three serialize on one PostgreSQL advisory lock per Clerk id (``_lock_clerk_id``), so a
first request racing an erasure cannot bring the person back, and a late webhook finds the
tombstone. An erased Clerk id stays erased: no later token or event creates it again.
"""

import hashlib
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

from cachetools import TTLCache
from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.contenttypes.models import ContentType
from django.core.signals import setting_changed
from django.db import connection, transaction
from django.db.models import Q, TextField
from django.db.models.expressions import DatabaseDefault
from django.db.models.functions import Cast
from django.db.models.signals import post_delete, post_save
from psycopg import sql

from accounts import revocations
from accounts.models import CLERK_USERNAME_PREFIX, ErasedClerkUser
from delight.postgresql.retry import transaction_once_more

logger = logging.getLogger(__name__)

# pg_advisory_xact_lock(int4, int4): this first key is the namespace of accounts' locks (the
# letters "clrk"), the second the Clerk id's hashtext. Other advisory locks of the service must
# use another first key.
ADVISORY_LOCK_NAMESPACE = 0x636C726B


class AccountErased(Exception):
    """This Clerk user was deleted in Clerk and erased here: no token of theirs is accepted."""


def username_for(clerk_user_id: str) -> str:
    """Django's username (150 characters at most) for a Clerk user, in the "clerk:" namespace no
    local account may use (issue #12, item 6): a ``sub`` of "staff" is not the staff account."""
    name = CLERK_USERNAME_PREFIX + clerk_user_id
    if len(name) <= 150:
        return name
    return CLERK_USERNAME_PREFIX + "sha256:" + hashlib.sha256(clerk_user_id.encode()).hexdigest()


# cachetools' caches are not thread-safe (runserver and gthread workers share this one): every
# use holds this lock (https://cachetools.readthedocs.io/en/latest/#cache-implementations).
_known_users_lock = threading.Lock()


@cache
def _known_users() -> TTLCache:
    """Users this process found lately, by Clerk id: at most CLERK_USER_CACHE_MAX_ENTRIES (the
    least recently used go first), each for CLERK_USER_CACHE_SECONDS (issue #12, item 7)."""
    return TTLCache(
        maxsize=settings.CLERK_USER_CACHE_MAX_ENTRIES, ttl=settings.CLERK_USER_CACHE_SECONDS
    )


def _remembered_user(clerk_user_id: str):
    with _known_users_lock:
        try:  # [] rather than .get(): a third of the cost on a hit (0.4 against 1.3 µs)
            return _known_users()[clerk_user_id]
        except KeyError:
            return None


def _remember_user(clerk_user_id: str, user) -> None:
    with _known_users_lock:
        _known_users()[clerk_user_id] = user


def user_for_clerk_id(clerk_user_id: str):
    """The account for ``clerk_user_id``, created on first sight; ``AccountErased`` if erased.

    Known users are remembered for ``CLERK_USER_CACHE_SECONDS``, so an authenticated request
    usually costs no query: only a look at the revocation store (accounts.revocations), where
    any process that erased the user says so. A user deleted or deactivated otherwise (the admin)
    is noticed within that time in other processes, at once in this one.
    """
    revoked = revocations.store().is_revoked(clerk_user_id)
    if revoked:
        raise AccountErased()
    if revoked is False:
        # None: the store could not answer, so the cache cannot be trusted; ask the database.
        user = _remembered_user(clerk_user_id)
        if user is not None:
            return user
    User = get_user_model()
    user = User.objects.filter(clerk_user_id=clerk_user_id).first()
    if user is None:
        user = _create_on_first_sight(clerk_user_id)
    _remember_user(clerk_user_id, user)
    return user


def _lock_clerk_id(clerk_user_id: str) -> None:
    """Hold, until the end of the current transaction, the lock that serializes creating,
    syncing and erasing this Clerk user across every process."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
            [ADVISORY_LOCK_NAMESPACE, clerk_user_id],
        )


@transaction_once_more
def _create_on_first_sight(clerk_user_id: str):
    """Insert the account unless the Clerk id is erased (or someone created it meanwhile).

    One statement under the lock: the tombstone check and the INSERT see the same snapshot,
    taken after the lock was granted, so an erasure that committed while this request waited is
    seen. Race-safe for concurrent first requests too: they wait for the lock, then find the row.
    A session opened while the database was read-only is refused once it is writable again: the
    transaction then runs once more on a new connection.
    """
    User = get_user_model()
    user = User(
        clerk_user_id=clerk_user_id,
        username=username_for(clerk_user_id),
        password=make_password(None),
    )
    with transaction.atomic():
        _lock_clerk_id(clerk_user_id)
        created = _insert_unless_erased(user)
    if created:
        return user
    existing = User.objects.filter(clerk_user_id=clerk_user_id).first()
    if existing is None:
        raise AccountErased()
    return existing


def _insert_unless_erased(user) -> bool:
    """``INSERT INTO users ... SELECT ... WHERE NOT EXISTS (tombstone) ON CONFLICT DO NOTHING``,
    from the model's own fields and values; True (and ``user`` saved) if a row was inserted."""
    meta, erased = user._meta, ErasedClerkUser._meta
    given = [
        f for f in meta.concrete_fields if not isinstance(getattr(user, f.attname), DatabaseDefault)
    ]
    from_db = [f for f in meta.concrete_fields if f not in given]
    query = sql.SQL(
        "INSERT INTO {table} ({columns}) SELECT {values} "
        "WHERE NOT EXISTS (SELECT 1 FROM {erased} WHERE {erased_id} = %s) "
        "ON CONFLICT DO NOTHING RETURNING {returning}"
    ).format(
        table=sql.Identifier(meta.db_table),
        columns=sql.SQL(", ").join(sql.Identifier(f.column) for f in given),
        # Typed placeholders: in an INSERT ... SELECT the values are not typed by the columns.
        values=sql.SQL(", ").join(
            sql.SQL("CAST(%s AS {})").format(sql.SQL(f.db_type(connection))) for f in given
        ),
        erased=sql.Identifier(erased.db_table),
        erased_id=sql.Identifier(erased.pk.column),
        returning=sql.SQL(", ").join(sql.Identifier(f.column) for f in from_db),
    )
    params = [f.get_db_prep_save(getattr(user, f.attname), connection) for f in given]
    with connection.cursor() as cursor:
        cursor.execute(query.as_string(connection.connection), [*params, user.clerk_user_id])
        row = cursor.fetchone()
    if row is None:
        return False
    for field, value in zip(from_db, row, strict=True):
        setattr(user, field.attname, field.to_python(value))
    user._state.adding = False
    user._state.db = connection.alias
    return True


@dataclass(frozen=True)
class ClerkProfile:
    """What a ``user.created`` / ``user.updated`` event says of a person, cleaned to fit."""

    clerk_user_id: str
    email: str
    first_name: str
    last_name: str
    image_url: str
    updated_at: datetime | None  # Clerk's updated_at: orders events for the same user


def clerk_user_sync(*, profile: ClerkProfile) -> bool:
    """Create or update the account from Clerk's data; False if nothing was applied (an erased
    user, or an event older than the last one applied: Svix does not guarantee order)."""
    User = get_user_model()
    with transaction.atomic():
        _lock_clerk_id(profile.clerk_user_id)
        if ErasedClerkUser.objects.filter(pk=profile.clerk_user_id).exists():
            return False
        user = User.objects.select_for_update().filter(clerk_user_id=profile.clerk_user_id).first()
        if user is not None and _is_older(profile.updated_at, user.clerk_updated_at):
            return False
        synced = {
            "email": profile.email,
            "first_name": profile.first_name,
            "last_name": profile.last_name,
            "image_url": profile.image_url,
            "clerk_updated_at": profile.updated_at,
        }
        if user is None:
            User.objects.create(
                clerk_user_id=profile.clerk_user_id,
                username=username_for(profile.clerk_user_id),
                password=make_password(None),
                **synced,
            )
        else:
            for name, value in synced.items():
                setattr(user, name, value)
            user.save(update_fields=list(synced))
    return True


def _is_older(event_time: datetime | None, applied: datetime | None) -> bool:
    return event_time is not None and applied is not None and event_time < applied


def clerk_user_erase(*, clerk_user_id: str) -> int:
    """Erase the account and every goal of a user deleted in Clerk, in one transaction, and
    remember the erasure (tombstone); the number of goals erased. An id never seen here still
    gets its tombstone, so a token issued before the deletion cannot create the account later.

    Once the transaction has committed, the caller tells every process (``announce_erasure``).
    """
    User = get_user_model()
    with transaction.atomic():
        _lock_clerk_id(clerk_user_id)
        ErasedClerkUser.objects.bulk_create(
            [ErasedClerkUser(clerk_user_id=clerk_user_id)], ignore_conflicts=True
        )
        user = User.objects.filter(clerk_user_id=clerk_user_id).first()
        goals = 0
        if user is not None:
            _forget_admin_log(user)
            # Django's collector deletes the goals, then the user, inside this transaction (in
            # Django 5.2 it always does; ON DELETE CASCADE in the database covers every other
            # way a user row goes, raw SQL included), and the database the goals' history with
            # them (goal_events' ON DELETE CASCADE).
            _, deleted = user.delete()
            goals = deleted.get("goals.Goal", 0)
    return goals


def _forget_admin_log(user) -> None:
    """The admin's log of changes to the user and their goals: each entry names the object
    (``object_repr``: a goal's title, a person's email), so it goes with them. (Entries staff
    made about others stay: they are the staff member's.)"""
    Goal = user.goals.model
    types = ContentType.objects.get_for_models(Goal, type(user))
    goal_ids = user.goals.annotate(text_id=Cast("id", TextField())).values("text_id")
    LogEntry.objects.filter(
        Q(content_type=types[Goal], object_id__in=goal_ids)
        | Q(content_type=types[type(user)], object_id=str(user.pk))
    ).delete()


def announce_erasure(clerk_user_id: str) -> None:
    """Tell every process (and this one) not to serve this erased user from a cache again; after
    the erasure committed (before, another process could reload the row and cache it anew)."""
    revocations.store().publish(clerk_user_id)
    forget_user(clerk_user_id)


def is_erased(clerk_user_id: str) -> bool:
    return ErasedClerkUser.objects.filter(pk=clerk_user_id).exists()


def clerk_time(milliseconds) -> datetime | None:
    """Clerk's timestamps are Unix milliseconds; None for anything else."""
    if type(milliseconds) is not int or not 0 <= milliseconds < 253_402_300_800_000:
        return None
    return datetime.fromtimestamp(milliseconds / 1000, tz=UTC)


def forget_user(clerk_user_id: str | None) -> None:
    if clerk_user_id:
        with _known_users_lock:
            _known_users().pop(clerk_user_id, None)


def clear_user_cache(**kwargs) -> None:
    _known_users.cache_clear()


def forget_revocations() -> None:
    """Tests: no erasure of an earlier test (or run) is still announced."""
    revocations.store().clear()


def _forget_changed_user(sender, instance, **kwargs) -> None:
    forget_user(instance.clerk_user_id)


post_save.connect(_forget_changed_user, sender=settings.AUTH_USER_MODEL)
post_delete.connect(_forget_changed_user, sender=settings.AUTH_USER_MODEL)
setting_changed.connect(clear_user_cache)

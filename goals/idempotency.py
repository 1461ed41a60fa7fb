"""``Idempotency-Key`` on create, as Stripe's API does it (https://docs.stripe.com/api/idempotent_requests).

The first request with a key runs, and its answer (status, body, Location and ETag) is kept for
the user and key for 24 hours; a retry with the same key and the same JSON body gets that answer
again, with ``Idempotent-Replayed: true``; the same key with another body is a 422 naming the
header. Keys of different users never meet.

Concurrency: the key is claimed, the goal created and the answer written in one transaction. A
concurrent request with the same key blocks on the claim (the unique index on user and key)
until the first commits, then finds the answer and replays it: exactly one goal. If the first
fails (a 4xx, a lost connection) its transaction rolls back and the key is free again: only an
answer of a request that ran is kept. Expired keys are claimable again, and pruned: a bounded
number by every keyed create, all of them by ``manage.py prune_idempotency_keys``.
"""

import datetime as dt
import hashlib
import json
import re

from django.db import connection, transaction
from django.db.models.functions import Now
from rest_framework import exceptions
from rest_framework.response import Response

from delight.postgresql.retry import transaction_once_more
from goals.models import IdempotencyKey

HEADER = "Idempotency-Key"
KEEP_FOR = dt.timedelta(hours=24)
PRUNE_PER_REQUEST = 100
KEPT_STATUSES = {201}
KEPT_HEADERS = ("Location", "ETag")

_VISIBLE_ASCII = re.compile(r"[\x21-\x7e]{1,255}")

_CLAIM = """
INSERT INTO idempotency_keys AS k (user_id, key, fingerprint, created_at, expires_at)
VALUES (%s, %s, %s, statement_timestamp(), statement_timestamp() + %s)
ON CONFLICT (user_id, key) DO UPDATE
    SET fingerprint = EXCLUDED.fingerprint, created_at = EXCLUDED.created_at,
        expires_at = EXCLUDED.expires_at, status_code = NULL, body = NULL, headers = NULL
    WHERE k.expires_at < statement_timestamp()
RETURNING id
"""


def invalid(message: str) -> exceptions.ValidationError:
    return exceptions.ValidationError({HEADER: [message]})


def valid_key(value: str) -> str:
    if not _VISIBLE_ASCII.fullmatch(value):
        raise invalid("Must be 1 to 255 visible ASCII characters (no spaces).")
    return value


def fingerprint(data) -> str:
    """The body as parsed JSON, in one canonical spelling: key order and spacing do not count."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


@transaction_once_more
def run_once(*, user, key: str, data, run, render) -> Response:
    """``run()`` (the create) once per user and key; its answer again for a retry.

    ``render(response)`` gives the response body as JSON-ready values (what is kept).
    """
    print_ = fingerprint(data)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(_CLAIM, [user.pk, key, print_, KEEP_FOR])
            claimed = cursor.fetchone()
        if claimed is None:
            return _replay(IdempotencyKey.objects.get(user=user, key=key), print_)
        _prune()
        response = run()
        if response.status_code in KEPT_STATUSES:
            IdempotencyKey.objects.filter(pk=claimed[0]).update(
                status_code=response.status_code,
                body=render(response),
                headers={name: response[name] for name in KEPT_HEADERS if name in response},
            )
        else:  # not an answer worth keeping: the key stays free for a corrected retry
            transaction.set_rollback(True)
    return response


def _replay(stored: IdempotencyKey, print_: str) -> Response:
    if stored.fingerprint != print_:
        raise invalid("This key was used with another request body; use a new key.")
    response = Response(stored.body, status=stored.status_code, headers=stored.headers)
    response["Idempotent-Replayed"] = "true"
    return response


def _prune() -> int:
    """Delete a bounded batch of expired keys (the expiry index finds them).

    Rows another transaction holds are skipped, and the DELETE checks the expiry again itself:
    a key being claimed anew (``_CLAIM`` moves its expiry and holds its row until it commits)
    is never deleted under its new owner, whose retry would then find no answer to replay and
    create a second goal (issue 22, item 6).
    """
    expired = IdempotencyKey.objects.filter(expires_at__lt=Now())
    batch = expired.select_for_update(skip_locked=True).values("pk")[:PRUNE_PER_REQUEST]
    deleted, _ = expired.filter(pk__in=batch).delete()
    return deleted


def prune_all() -> int:
    deleted, _ = IdempotencyKey.objects.filter(expires_at__lt=Now()).delete()
    return deleted

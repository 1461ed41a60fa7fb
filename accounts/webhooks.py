"""Clerk's webhooks, delivered and signed by Svix (issue #14; the contract's "Clerk webhooks").

A delivery is three headers (``svix-id``, ``svix-timestamp``, ``svix-signature``) and a JSON body,
signed with HMAC-SHA256 over ``"{svix-id}.{svix-timestamp}.{raw body}"`` and the endpoint's secret
(``whsec_<base64>``); Svix retries any answer but a 2xx for days, and replays on request from the
Clerk dashboard, always with the same ``svix-id``. Docs: https://clerk.com/docs/webhooks/sync-data,
https://docs.svix.com/receiving/verifying-payloads/how-manual.

The signature check itself is the ``standardwebhooks`` library's (the reference implementation
of the scheme Svix publishes as Standard Webhooks): constant-time comparison, any one of several
``v1,<sig>`` values, five minutes of tolerance either way on the timestamp.
"""

import io
import logging
import re
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models.functions import Now
from rest_framework import exceptions
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from accounts import services
from accounts.clerk import is_clerk_id
from accounts.models import WebhookDelivery
from delight.links import web_url
from delight.parsers import StrictJSONParser
from delight.postgresql.retry import transaction_once_more

logger = logging.getLogger(__name__)

# Far longer than Svix retries a message (about a day and a half), so a redelivery is always
# recognised; a replay from the dashboard after that is applied again, which changes nothing
# (events older than the last applied are ignored, erased users stay erased).
DELIVERY_RETENTION = timedelta(days=30)

PROCESSED, DUPLICATE, IGNORED = "processed", "already processed", "ignored"

_SVIX_ID = re.compile(r"[!-~]{1,255}")  # visible ASCII: Svix ids are "msg_<ksuid>"
_TIMESTAMP = re.compile(r"[0-9]{1,11}")  # Unix seconds
# "v1," and well-formed base64 (whole quads, padding only at the end): what the library can decode.
_SIGNATURE = re.compile(r"v1,(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
_SURROGATE = re.compile("[\ud800-\udfff]")  # JSON's \ud800 escapes: no UTF-8 encoder takes them


class SignatureRefused(exceptions.APIException):
    """401: the delivery is not signed with our secret, or not now (the five-minute window)."""

    status_code = 401
    default_detail = "Webhook signature is invalid."
    default_code = "invalid_signature"


class AnnouncementFailed(exceptions.APIException):
    """503: the erasure is committed, but other processes could not be told; Svix retries, and
    the redelivery (a duplicate, changing nothing) announces it again."""

    status_code = 503
    default_detail = "The erasure is saved but could not be announced yet; retry shortly."
    default_code = "announcement_failed"


@dataclass(frozen=True)
class Delivery:
    svix_id: str
    event_type: str
    data: dict


@lru_cache(maxsize=4)
def _verifier(secret: str) -> Webhook:
    return Webhook(secret)


def verified_delivery(body: bytes, headers, *, secret: str) -> Delivery:
    """The delivery, once its headers, signature and body hold up; a 400 (malformed) or a 401
    (``SignatureRefused``) otherwise. Nothing is written either way."""
    svix_id = headers.get("svix-id", "")
    timestamp = headers.get("svix-timestamp", "")
    signatures = headers.get("svix-signature", "")
    if not (svix_id and timestamp and signatures):
        raise exceptions.ParseError(
            "A Svix delivery needs the svix-id, svix-timestamp and svix-signature headers."
        )
    if not _SVIX_ID.fullmatch(svix_id):
        raise exceptions.ParseError("svix-id must be 1 to 255 visible ASCII characters.")
    if not _TIMESTAMP.fullmatch(timestamp):
        raise exceptions.ParseError("svix-timestamp must be Unix time in whole seconds.")
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        raise exceptions.ParseError("The body is not UTF-8 JSON.") from None
    # The library would stop at the first value it cannot split or decode; keep the ones that
    # can be a signature, so an odd value cannot hide a valid one (signatures are "v1,<base64>",
    # one per active secret during a rotation).
    candidates = " ".join(
        value for value in signatures.split(" ") if value != "v1," and _SIGNATURE.fullmatch(value)
    )
    if not candidates:
        raise SignatureRefused("No v1 signature in svix-signature.")
    try:
        _verifier(secret).verify(
            body,
            {
                "webhook-id": svix_id,
                "webhook-timestamp": timestamp,
                "webhook-signature": candidates,
            },
            json_parse=False,
        )
    except WebhookVerificationError as exc:
        # "No matching signature found", "Message timestamp too old" / "too new".
        raise SignatureRefused(f"Webhook signature refused: {exc}.") from None
    event = StrictJSONParser().parse(io.BytesIO(body))
    if not (
        isinstance(event, dict)
        and isinstance(event.get("type"), str)
        and isinstance(event.get("data"), dict)
    ):
        raise exceptions.ParseError('Not a Clerk event: expected {"type": ..., "data": {...}}.')
    return Delivery(svix_id=svix_id, event_type=event["type"][:100], data=event["data"])


def process(delivery: Delivery) -> str:
    """Apply a verified delivery once; what became of it (``PROCESSED``, ``DUPLICATE``,
    ``IGNORED``). The delivery id is recorded in the same transaction as the change, so a
    failure leaves neither (Svix retries), and a concurrent duplicate waits on the id's unique
    index until the first commits, then finds it."""
    handler = _HANDLERS.get(delivery.event_type)
    clerk_user_id = _user_id(delivery) if handler is not None else None
    outcome = _apply(delivery, handler, clerk_user_id)
    if delivery.event_type == "user.deleted" and services.is_erased(clerk_user_id):
        # Once committed; on a redelivery too, in case the first announcement failed.
        try:
            services.announce_erasure(clerk_user_id)
        except Exception:  # Redis down, or the revocation directory unusable
            logger.exception("clerk webhook %s: erased, but not announced", delivery.svix_id)
            raise AnnouncementFailed() from None
    return outcome


@transaction_once_more
def _apply(delivery: Delivery, handler, clerk_user_id: str | None) -> str:
    with transaction.atomic():
        try:
            with transaction.atomic():
                WebhookDelivery.objects.create(id=delivery.svix_id, event_type=delivery.event_type)
        except IntegrityError:
            return DUPLICATE
        outcome = handler(delivery, clerk_user_id) if handler else IGNORED
        WebhookDelivery.objects.filter(received_at__lt=Now() - DELIVERY_RETENTION).delete()
        return outcome


def _user_id(delivery: Delivery) -> str:
    clerk_user_id = delivery.data.get("id")
    if not is_clerk_id(clerk_user_id):
        raise exceptions.ParseError("The event's data.id is not a Clerk user id.")
    return clerk_user_id


def _sync(delivery: Delivery, clerk_user_id: str) -> str:
    profile = profile_from(delivery.data, clerk_user_id)
    return PROCESSED if services.clerk_user_sync(profile=profile) else IGNORED


def _erase(delivery: Delivery, clerk_user_id: str) -> str:
    goals = services.clerk_user_erase(clerk_user_id=clerk_user_id)
    # No personal data in the log: neither the Clerk id (the tombstone keeps it) nor the row id.
    logger.info("clerk webhook %s: erased a user and %d goals", delivery.svix_id, goals)
    return PROCESSED


_HANDLERS = {"user.created": _sync, "user.updated": _sync, "user.deleted": _erase}


def profile_from(data: dict, clerk_user_id: str) -> services.ClerkProfile:
    """What the service keeps of a Clerk user object, cut to its columns."""
    User = get_user_model()
    email = ""
    primary = data.get("primary_email_address_id")
    addresses = data.get("email_addresses")
    for address in addresses if isinstance(addresses, list) else []:
        if isinstance(address, dict) and primary is not None and address.get("id") == primary:
            email = _text(address.get("email_address"), User._meta.get_field("email").max_length)
    image_url = _text(data.get("image_url"), User._meta.get_field("image_url").max_length)
    if image_url and not web_url(image_url):
        # Clerk's are https (img.clerk.com). Anything else (javascript:, data:) is dropped, as
        # an address too long is: the model's URLField would refuse it too, and whatever shows
        # it later should not have to be the one place that checks. The rest of the event is
        # applied: refusing it would only have Svix retry it for days with the same address.
        logger.warning("clerk webhook: dropped an image_url that is not an http(s) address")
        image_url = ""
    return services.ClerkProfile(
        clerk_user_id=clerk_user_id,
        email=email,
        first_name=_text(data.get("first_name"), 150, truncate=True),
        last_name=_text(data.get("last_name"), 150, truncate=True),
        image_url=image_url,
        updated_at=services.clerk_time(data.get("updated_at")),
    )


def _text(value, max_length: int, *, truncate: bool = False) -> str:
    """``value`` as text PostgreSQL can store: no NUL, no lone surrogate (replaced). Too long, a
    name is cut; an address is dropped (a cut one would be wrong)."""
    if not isinstance(value, str):
        return ""
    cleaned = _SURROGATE.sub("\ufffd", value.replace("\x00", ""))
    if len(cleaned) > max_length:
        return cleaned[:max_length] if truncate else ""
    return cleaned

"""Clerk webhook deliveries as Svix sends them, signed by the tests themselves.

The signature is computed here with the standard library's HMAC-SHA256, from Svix's published
scheme (https://docs.svix.com/receiving/verifying-payloads/how-manual): base64 of
HMAC-SHA256(secret, "{svix-id}.{svix-timestamp}.{raw body}"), sent as "v1,<base64>", where the
secret is the base64 after "whsec_". Nothing of the service's own verification is used.
"""

import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid

WEBHOOK_URL = "/api/v1/webhooks/clerk"


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def signature(secret: str, msg_id: str, timestamp: int | str, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def headers(
    secret: str, body: bytes, *, msg_id: str | None = None, timestamp: int | None = None
) -> dict:
    """The three Svix headers, as WSGI ``HTTP_*`` keys for Django's test client."""
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        "HTTP_SVIX_ID": msg_id,
        "HTTP_SVIX_TIMESTAMP": str(timestamp),
        "HTTP_SVIX_SIGNATURE": signature(secret, msg_id, timestamp, body),
    }


def http_headers(wsgi_headers: dict) -> dict:
    """The same headers under their HTTP names, for ``requests``."""
    return {
        key.removeprefix("HTTP_").replace("_", "-").lower(): value
        for key, value in wsgi_headers.items()
    }


def envelope(event_type: str, data: dict) -> bytes:
    return json.dumps(
        {
            "data": data,
            "object": "event",
            "type": event_type,
            "timestamp": int(time.time() * 1000),
            "instance_id": "ins_test",
        }
    ).encode()


def user_data(
    clerk_id: str,
    *,
    email: str | None = "ada@example.com",
    first_name: str | None = "Ada",
    last_name: str | None = "Lovelace",
    image_url: str = "https://img.clerk.com/ada.png",
    updated_at: int | None = None,
) -> dict:
    """A Clerk user object, trimmed to what the service reads plus a little of the rest."""
    primary = "idn_primary"
    addresses = [{"id": "idn_other", "email_address": "old@example.com", "object": "email_address"}]
    if email is not None:
        addresses.append({"id": primary, "email_address": email, "object": "email_address"})
    now_ms = int(time.time() * 1000)
    return {
        "id": clerk_id,
        "object": "user",
        "email_addresses": addresses,
        "primary_email_address_id": primary if email is not None else None,
        "first_name": first_name,
        "last_name": last_name,
        "image_url": image_url,
        "username": None,
        "created_at": now_ms - 1000,
        "updated_at": now_ms if updated_at is None else updated_at,
        "public_metadata": {},
    }


def user_created(clerk_id: str, **fields) -> bytes:
    return envelope("user.created", user_data(clerk_id, **fields))


def user_updated(clerk_id: str, **fields) -> bytes:
    return envelope("user.updated", user_data(clerk_id, **fields))


def user_deleted(clerk_id: str) -> bytes:
    return envelope("user.deleted", {"id": clerk_id, "deleted": True, "object": "user"})

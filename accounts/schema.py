"""OpenAPI: the Clerk bearer scheme, and the Clerk webhook route (tag "webhooks")."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers


class ClerkAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.ClerkAuthentication"
    name = "ClerkBearer"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "A Clerk session token (RS256). In development: "
            "`.venv/bin/python manage.py dev_token <user_id>`.",
        }


# --- POST /api/v1/webhooks/clerk ---------------------------------------------------------------

_EVENT = inline_serializer(
    "ClerkEvent",
    fields={
        "type": serializers.CharField(help_text="user.created, user.updated, user.deleted, ..."),
        "data": serializers.DictField(help_text="The Clerk object the event is about."),
        "object": serializers.CharField(required=False, help_text='Always "event".'),
        "timestamp": serializers.IntegerField(required=False, help_text="Unix milliseconds."),
        "instance_id": serializers.CharField(required=False),
    },
)
_OUTCOME = inline_serializer(
    "ClerkWebhookOutcome",
    fields={
        "status": serializers.ChoiceField(choices=["processed", "already processed", "ignored"])
    },
)
_ERROR = inline_serializer("ClerkWebhookError", fields={"detail": serializers.CharField()})


def _error(description: str, example: str) -> OpenApiResponse:
    return OpenApiResponse(
        _ERROR,
        description=description,
        examples=[OpenApiExample(description, value={"detail": example}, response_only=True)],
    )


def _header(name: str, description: str) -> OpenApiParameter:
    return OpenApiParameter(
        name, OpenApiTypes.STR, OpenApiParameter.HEADER, required=True, description=description
    )


_USER = {
    "id": "user_2abc123xyz",
    "object": "user",
    "email_addresses": [
        {"id": "idn_29w83yL7CwVlJXylYLxcslromF1", "email_address": "ada@example.com"}
    ],
    "primary_email_address_id": "idn_29w83yL7CwVlJXylYLxcslromF1",
    "first_name": "Ada",
    "last_name": "Lovelace",
    "image_url": "https://img.clerk.com/eyJ0eXBlIjoicHJveHkifQ",
    "created_at": 1763461800000,
    "updated_at": 1763461800000,
}


def _example(event_type: str, data: dict, summary: str) -> OpenApiExample:
    return OpenApiExample(
        event_type,
        summary=summary,
        request_only=True,
        value={
            "data": data,
            "object": "event",
            "type": event_type,
            "timestamp": 1763461800123,
            "instance_id": "ins_2abc123xyz",
        },
    )


CLERK_WEBHOOK = extend_schema(
    operation_id="clerk_webhook",
    tags=["webhooks"],
    summary="Clerk user events (Svix-signed)",
    description=(
        "Clerk's webhook endpoint, called by Svix, not by API clients. The signature is the "
        "credential (no bearer token): HMAC-SHA256 of `{svix-id}.{svix-timestamp}.{raw body}` "
        "with the endpoint's signing secret (`CLERK_WEBHOOK_SIGNING_SECRET`), within five "
        "minutes of `svix-timestamp`.\n\n"
        "- `user.created`, `user.updated`: the local account is created or updated (primary "
        "email, names, image URL); an event older than the last one applied changes nothing.\n"
        "- `user.deleted`: the account and all its goals are erased in one transaction; the "
        "Clerk id is remembered (a tombstone), so neither a late event nor a session token "
        "issued before the deletion brings the account back.\n"
        "- A `svix-id` seen before is acknowledged (`already processed`) and changes nothing; "
        "other event types and events that change nothing are `ignored`.\n\n"
        "Without a configured secret the route answers 404."
    ),
    auth=[],
    parameters=[
        _header("svix-id", "The message id; the same on every redelivery and replay."),
        _header("svix-timestamp", "Unix seconds when this attempt was signed."),
        _header("svix-signature", "One or more space-separated `v1,<base64>` signatures."),
    ],
    request=_EVENT,
    examples=[
        _example("user.created", _USER, "A user signed up"),
        _example("user.updated", {**_USER, "last_name": "King"}, "A user changed their profile"),
        _example(
            "user.deleted",
            {"id": "user_2abc123xyz", "deleted": True, "object": "user"},
            "A user was deleted in Clerk: erase them",
        ),
    ],
    responses={
        200: OpenApiResponse(_OUTCOME, description="Acknowledged; Svix stops retrying."),
        400: _error(
            "Missing or malformed Svix headers, or a body that is not a Clerk event.",
            "A Svix delivery needs the svix-id, svix-timestamp and svix-signature headers.",
        ),
        401: _error(
            "No valid signature, or a timestamp more than five minutes away.",
            "Webhook signature refused: No matching signature found.",
        ),
        404: _error("No webhook signing secret is configured.", "Not found."),
        413: _error("The body is over 64 KiB.", "Request body is too large (limit 65536 bytes)."),
        503: _error(
            "The database is unreachable, or an erasure could not be announced yet "
            "(with `Retry-After`); Svix retries.",
            "The service is temporarily unavailable; try again shortly.",
        ),
    },
)

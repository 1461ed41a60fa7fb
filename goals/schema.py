"""OpenAPI documentation of the goal routes: real status codes, error shapes and the story's examples."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers

from goals.serializers import GoalSerializer

Detail = inline_serializer("ErrorDetail", fields={"detail": serializers.CharField()})
ValidationErrorBody = inline_serializer(
    "ValidationError",
    fields={
        "detail": serializers.CharField(),
        "errors": serializers.DictField(child=serializers.ListField(child=serializers.CharField())),
    },
)


def _error(description: str, example: str, body=Detail) -> OpenApiResponse:
    return OpenApiResponse(
        body,
        description=description,
        examples=[OpenApiExample(description, value={"detail": example}, response_only=True)],
    )


UNAUTHORIZED = _error(
    "Missing, invalid or expired credentials (with `WWW-Authenticate: Bearer`).",
    "Token has expired.",
)
NOT_FOUND = _error("No such goal for this user (another user's goal is also 404).", "Not found.")
UNPROCESSABLE = OpenApiResponse(
    ValidationErrorBody,
    description="Validation failed; `errors` names each field or parameter.",
    examples=[
        OpenApiExample(
            "Invalid goal_type",
            value={
                "detail": "Invalid input: goal_type.",
                "errors": {
                    "goal_type": ['"invalid" is not valid; use one of: abstract, concrete.']
                },
            },
            response_only=True,
        )
    ],
)
BAD_JSON = _error(
    "The body is not parseable JSON.", "JSON parse error: Expecting value: line 1 column 1 (char 0)"
)
UNSUPPORTED = _error(
    "Unsupported Content-Type (JSON only).", 'Unsupported media type "text/plain" in request.'
)
TOO_LARGE = _error("The body is over 64 KiB.", "Request body is too large (limit 65536 bytes).")
UNAVAILABLE = _error(
    "The database or the key service is unreachable (with `Retry-After`).",
    "The service is temporarily unavailable; try again shortly.",
)

STALE = _error(
    "`If-Match` names a version that is no longer current; nothing was changed.",
    "The goal has changed since the version named in If-Match; fetch it again.",
)
NOT_MODIFIED = OpenApiResponse(description="`If-None-Match` names the current version; no body.")
IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="Optional. The goal's `ETag` as last seen: the write happens only if the goal "
    "is still at that version (else 412). Without it, the last writer wins.",
)
IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="Optional. The goal's `ETag` as last seen: 304 with no body if unchanged.",
)

COMMON = {401: UNAUTHORIZED, 503: UNAVAILABLE}
WRITE = {400: BAD_JSON, 413: TOO_LARGE, 415: UNSUPPORTED, 422: UNPROCESSABLE}

STORY_REQUEST = OpenApiExample(
    "Create a concrete growth goal",
    value={
        "title": "Graduate early from Georgia Tech",
        "description": "Complete my CS degree by May 2026 instead of December 2026",
        "goal_type": "concrete",
        "value_category": "growth",
        "target_date": "2026-05-15",
    },
    request_only=True,
)
STORY_RESPONSE = OpenApiExample(
    "A goal",
    value={
        "id": "550e8400-e29b-41d4-a716-446655440000",
        "user_id": "user_2abc123xyz",
        "title": "Graduate early from Georgia Tech",
        "description": "Complete my CS degree by May 2026 instead of December 2026",
        "goal_type": "concrete",
        "value_category": "growth",
        "target_date": "2026-05-15",
        "status": "active",
        "created_at": "2025-11-18T10:30:00Z",
        "updated_at": "2025-11-18T10:30:00Z",
    },
    response_only=True,
)
PATCH_REQUEST = OpenApiExample(
    "Pause a goal",
    value={"status": "paused", "description": "Pausing temporarily due to internship commitments"},
    request_only=True,
)

GOAL_VIEWSET = {
    "list": extend_schema(
        summary="List my goals",
        description="Newest first. Archived goals are left out unless `status=archived`. "
        "Unknown query parameters are ignored.",
        responses={200: GoalSerializer(many=True), 422: UNPROCESSABLE, **COMMON},
    ),
    "create": extend_schema(
        summary="Create a goal",
        description="Answers 201 with the goal and `Location: /api/v1/goals/{id}`.",
        request=GoalSerializer,
        responses={201: GoalSerializer, **WRITE, **COMMON},
        examples=[STORY_REQUEST, STORY_RESPONSE],
    ),
    "retrieve": extend_schema(
        summary="Get one of my goals",
        description="The response's `ETag` is the goal's version.",
        parameters=[IF_NONE_MATCH],
        responses={200: GoalSerializer, 304: NOT_MODIFIED, 404: NOT_FOUND, **COMMON},
        examples=[STORY_RESPONSE],
    ),
    "partial_update": extend_schema(
        summary="Update a goal",
        description="Changes only the keys given; an empty body changes nothing. Setting `status` "
        "from `archived` to another value restores the goal.",
        request=GoalSerializer,
        parameters=[IF_MATCH],
        responses={200: GoalSerializer, 404: NOT_FOUND, 412: STALE, **WRITE, **COMMON},
        examples=[PATCH_REQUEST, STORY_RESPONSE],
    ),
    "destroy": extend_schema(
        summary="Archive a goal (soft delete)",
        description="Sets `status` to `archived` and answers 200 with the goal; the row is kept. "
        "Archiving an archived goal answers 200 with it, unchanged.",
        request=None,
        parameters=[IF_MATCH],
        responses={200: GoalSerializer, 404: NOT_FOUND, 412: STALE, **COMMON},
    ),
}

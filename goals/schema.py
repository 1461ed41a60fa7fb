"""OpenAPI documentation of the goal routes, written for generated clients: readable operation ids,
the `goals` tag, every header the routes send, every status they can answer with its error shape,
and examples for the story's goal and every query parameter."""

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

TAGS = ["goals"]

Detail = inline_serializer("ErrorDetail", fields={"detail": serializers.CharField()})
ValidationErrorBody = inline_serializer(
    "ValidationError",
    fields={
        "detail": serializers.CharField(),
        "errors": serializers.DictField(child=serializers.ListField(child=serializers.CharField())),
    },
)


def _error(name: str, description: str, example: str) -> OpenApiResponse:
    return OpenApiResponse(
        Detail,
        description=description,
        examples=[OpenApiExample(name, value={"detail": example}, response_only=True)],
    )


UNAUTHORIZED = _error(
    "Unauthorized",
    "Missing, invalid or expired credentials (with `WWW-Authenticate: Bearer`).",
    "Token has expired.",
)
NOT_FOUND = _error(
    "Not found", "No such goal for this user (another user's goal is also 404).", "Not found."
)
NOT_ACCEPTABLE = _error(
    "Not acceptable",
    "The `Accept` header asks for a format the API does not speak (JSON only).",
    "Could not satisfy the request Accept header.",
)
UNPROCESSABLE = OpenApiResponse(
    ValidationErrorBody,
    description="Validation failed; `errors` names each field, query parameter or header.",
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
    "Malformed JSON",
    "The body is not parseable JSON.",
    "JSON parse error: Expecting value: line 1 column 1 (char 0)",
)
UNSUPPORTED = _error(
    "Unsupported media type",
    "Unsupported Content-Type (JSON only).",
    'Unsupported media type "text/plain" in request.',
)
TOO_LARGE = _error(
    "Too large", "The body is over 64 KiB.", "Request body is too large (limit 65536 bytes)."
)
LENGTH_REQUIRED = _error(
    "Length required",
    "A body sent without Content-Length (chunked) that the server did not read.",
    "A body without Content-Length cannot be read here: send Content-Length.",
)
LIMIT_REACHED = _error(
    "Goal limit reached",
    "The user already holds `GOALS_PER_USER_LIMIT` goals (archived ones included).",
    "Goal limit reached: A user holds at most 10000 goals (archived ones included).",
)
THROTTLED = _error(
    "Throttled",
    "Too many requests for this user (with `Retry-After`, in seconds).",
    "Request was throttled. Expected available in 42 seconds.",
)
UNAVAILABLE = _error(
    "Unavailable",
    "The database or the key service is unreachable (with `Retry-After`).",
    "The service is temporarily unavailable; try again shortly.",
)
STALE = _error(
    "Stale version",
    "`If-Match` names a version that is no longer current; nothing was changed.",
    "The goal has changed since the version named in If-Match; fetch it again.",
)
NOT_MODIFIED = OpenApiResponse(description="`If-None-Match` names the current version; no body.")


def _header(name: str, description: str, statuses: list[int], **kwargs) -> OpenApiParameter:
    return OpenApiParameter(
        name,
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        description=description,
        response=statuses,
        **kwargs,
    )


LOCATION = _header("Location", "The new goal's URL: `/api/v1/goals/{id}`.", [201], required=True)
ETAG = _header(
    "ETag",
    'The goal\'s version, a strong entity tag: `"1763461800000000"`.',
    [200, 201, 304],
    required=True,
)
REPLAYED = OpenApiParameter(
    "Idempotent-Replayed",
    {"type": "string", "enum": ["true"]},
    OpenApiParameter.HEADER,
    description="`true` when this is the kept answer of an earlier request with the same "
    "`Idempotency-Key`; absent otherwise.",
    response=[201],
)
LINK = _header(
    "Link",
    "RFC 8288 links to the `first` and `last` pages, and to `prev` and `next` where they exist, "
    'each keeping every query parameter: `<http://host/api/v1/goals?page=2>; rel="next", ...`.',
    [200],
    required=True,
)
RETRY_AFTER = _header(
    "Retry-After", "Seconds to wait before trying again.", [429, 503], required=True
)
WWW_AUTHENTICATE = _header("WWW-Authenticate", '`Bearer realm="api"`.', [401], required=True)
REQUEST_ID = _header(
    "X-Request-ID",
    "The request's id (the client's `X-Request-ID` when it sent a sane one), as in the logs.",
    [200, 201, 304, 400, 401, 404, 406, 409, 411, 412, 413, 415, 422, 429, 503],
    required=True,
)
ANSWER_HEADERS = [RETRY_AFTER, WWW_AUTHENTICATE, REQUEST_ID]

IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="Optional. The goal's `ETag` as last seen: the write happens only if the goal "
    "is still at that version (else 412). Without it, the last writer wins.",
    examples=[OpenApiExample("The version last seen", value='"1763461800000000"')],
)
IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="Optional. The goal's `ETag` as last seen: 304 with no body if unchanged.",
    examples=[OpenApiExample("The version last seen", value='"1763461800000000"')],
)
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
    OpenApiParameter.HEADER,
    description="Optional, 1 to 255 visible ASCII characters (a UUID is a good choice). The "
    "first answer is kept for 24 hours: a retry with the same key and the same body gets it "
    "again (`Idempotent-Replayed: true`) and creates nothing; the same key with another body is "
    "a 422. Concurrent requests with one key create one goal.",
    examples=[OpenApiExample("A UUID per create", value="0b6a4f3e-9c1d-4d8e-a2b7-5f0c3e1a9d42")],
)


def _query(name: str, kind, description: str, example) -> OpenApiParameter:
    return OpenApiParameter(
        name,
        kind,
        OpenApiParameter.QUERY,
        description=description,
        # "Not set" first: Swagger UI fills "Try it out" with the first example, and a list
        # narrowed by every example at once would come back empty (an empty value is absent).
        examples=[
            OpenApiExample("Not set", value="", summary="(not set)"),
            OpenApiExample(name, value=example),
        ],
    )


def _timestamp(name: str, description: str) -> OpenApiParameter:
    return _query(
        name,
        OpenApiTypes.DATETIME,
        f"{description} RFC 3339 with a zone (`Z` or an offset; send a `+` as `%2B`); a naive or "
        "malformed one is 422. Inclusive. Any number of fraction digits (kept to microseconds).",
        "2026-11-18T10:30:00Z",
    )


LIST_PARAMETERS = [
    _timestamp(
        "updated_after",
        "Goals changed at or after this instant. Without `status`, archived goals are included, "
        "so a client that syncs learns what was archived; sync with `ordering=updated_at`.",
    ),
    _timestamp("updated_before", "Goals changed at or before this instant."),
    _timestamp("created_after", "Goals created at or after this instant."),
    _timestamp("created_before", "Goals created at or before this instant."),
    _query(
        "target_date_after",
        OpenApiTypes.DATE,
        "Goals whose target date is on or after this day (`YYYY-MM-DD`).",
        "2026-01-01",
    ),
    _query(
        "target_date_before",
        OpenApiTypes.DATE,
        "Goals whose target date is on or before this day; earlier than `target_date_after` is "
        "422.",
        "2026-12-31",
    ),
    _query(
        "q",
        {"type": "string", "maxLength": 200},
        "Words in the title or description, case- and accent-insensitive, each also matching "
        "the start of a word ('caf' finds 'Café'); every word must match. Up to 200 characters, "
        "no NUL.",
        "half marathon",
    ),
]

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

# Every operation: a body is measured (413) or refused unread (411) before the route is known,
# so a GET or DELETE sent with one meets them too.
COMMON = {
    401: UNAUTHORIZED,
    411: LENGTH_REQUIRED,
    413: TOO_LARGE,
    429: THROTTLED,
    503: UNAVAILABLE,
}
READ = {406: NOT_ACCEPTABLE, **COMMON}
WRITE = {
    400: BAD_JSON,
    406: NOT_ACCEPTABLE,
    415: UNSUPPORTED,
    422: UNPROCESSABLE,
    **COMMON,
}

GOAL_VIEWSET = {
    "list": extend_schema(
        operation_id="listGoals",
        tags=TAGS,
        summary="List my goals",
        description="Newest first. Archived goals are left out unless `status=archived` (or a "
        "sync with `updated_after`). Unknown query parameters are ignored. The `Link` header "
        "and `next`/`previous` page through the same list.",
        parameters=[*LIST_PARAMETERS, LINK, *ANSWER_HEADERS],
        responses={200: GoalSerializer(many=True), 422: UNPROCESSABLE, **READ},
    ),
    "create": extend_schema(
        operation_id="createGoal",
        tags=TAGS,
        summary="Create a goal",
        description="Answers 201 with the goal, its `Location` and `ETag`. With "
        "`Idempotency-Key`, a retry gets the first answer again instead of a second goal.",
        request=GoalSerializer,
        parameters=[IDEMPOTENCY_KEY, LOCATION, ETAG, REPLAYED, *ANSWER_HEADERS],
        responses={201: GoalSerializer, 409: LIMIT_REACHED, **WRITE},
        examples=[STORY_REQUEST, STORY_RESPONSE],
    ),
    "retrieve": extend_schema(
        operation_id="getGoal",
        tags=TAGS,
        summary="Get one of my goals",
        description="The response's `ETag` is the goal's version; query filters do not apply "
        "here (an archived goal is found by its id).",
        parameters=[IF_NONE_MATCH, ETAG, *ANSWER_HEADERS],
        responses={200: GoalSerializer, 304: NOT_MODIFIED, 404: NOT_FOUND, **READ},
        examples=[STORY_RESPONSE],
    ),
    "partial_update": extend_schema(
        operation_id="updateGoal",
        tags=TAGS,
        summary="Update a goal",
        description="Changes only the keys given; an empty body, or one that sends the values the "
        "goal already has, changes nothing (its `updated_at` and `ETag` stay). Setting `status` "
        "from `archived` to another value restores the goal.",
        request=GoalSerializer,
        parameters=[IF_MATCH, ETAG, *ANSWER_HEADERS],
        responses={200: GoalSerializer, 404: NOT_FOUND, 412: STALE, **WRITE},
        examples=[PATCH_REQUEST, STORY_RESPONSE],
    ),
    "destroy": extend_schema(
        operation_id="archiveGoal",
        tags=TAGS,
        summary="Archive a goal (soft delete)",
        description="Sets `status` to `archived` and answers 200 with the goal; the row is kept. "
        "Archiving an archived goal answers 200 with it, unchanged. PATCH another status to "
        "restore it.",
        request=None,
        parameters=[IF_MATCH, ETAG, *ANSWER_HEADERS],
        responses={200: GoalSerializer, 404: NOT_FOUND, 412: STALE, **READ},
    ),
}

"""OpenAPI documentation of the history and insights routes (goals.history_views), written like
goals.schema's: readable operation ids, every answer they can give with its error shape, and
examples taken from the contract."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema

from goals import history
from goals.history_serializers import GoalHistoryPageSerializer, InsightsSerializer
from goals.models import GoalType, ValueCategory
from goals.schema import ANSWER_HEADERS, NOT_FOUND, READ, TAGS, UNPROCESSABLE

EVENT = {
    "id": "7d0c5f0e-3a4e-4b8e-9a59-0c1d2e3f4a5b",
    "goal_id": "550e8400-e29b-41d4-a716-446655440000",
    "occurred_at": "2026-12-06T10:31:02.123456Z",
    "action": "updated",
    "changes": {"status": {"from": "active", "to": "paused"}},
    "actor": "user",
}
CREATED = {
    "id": "0f3c1e9a-51b2-4c7d-8e6f-2a4b6c8d0e1f",
    "goal_id": "550e8400-e29b-41d4-a716-446655440000",
    "occurred_at": "2025-11-18T10:30:00.000412Z",
    "action": "created",
    "changes": {
        "title": {"from": None, "to": "Graduate early from Georgia Tech"},
        "description": {"from": None, "to": None},
        "goal_type": {"from": None, "to": "concrete"},
        "value_category": {"from": None, "to": "growth"},
        "target_date": {"from": None, "to": "2026-05-15"},
        "status": {"from": None, "to": "active"},
    },
    "actor": "user",
}
HISTORY_PAGE = OpenApiExample("Events", value={"results": [EVENT, CREATED], "next_cursor": None})
INSIGHTS_EXAMPLE = OpenApiExample(
    "Insights",
    value={
        "today": "2026-12-06",
        "by_value_category": {
            "health": {"active": 2, "paused": 0, "completed": 1, "archived": 0},
            "craft": {"active": 0, "paused": 1, "completed": 0, "archived": 0},
            "growth": {"active": 1, "paused": 0, "completed": 0, "archived": 1},
            "connection": {"active": 0, "paused": 0, "completed": 0, "archived": 0},
        },
        "by_goal_type": {
            "abstract": {
                "active": 1,
                "paused": 0,
                "completed": 0,
                "archived": 1,
                "completion_rate": 0.0,
            },
            "concrete": {
                "active": 2,
                "paused": 1,
                "completed": 1,
                "archived": 0,
                "completion_rate": 0.25,
            },
        },
        "completed": {
            "count": 1,
            "on_time": 1,
            "late": 0,
            "without_target_date": 0,
            "median_days_to_complete": 12.5,
        },
        "overdue": 1,
        "due_within_30_days": 2,
    },
)
BAD_PARAMETER = OpenApiResponse(
    UNPROCESSABLE.response,
    description="A query parameter is invalid; `errors` names each.",
    examples=[
        OpenApiExample(
            "Invalid page_size",
            value={
                "detail": "Invalid input: page_size.",
                "errors": {"page_size": ["Ensure this value is less than or equal to 100."]},
            },
            response_only=True,
        )
    ],
)
UNKNOWN_ZONE = OpenApiResponse(
    UNPROCESSABLE.response,
    description="`tz` is not an IANA time zone.",
    examples=[
        OpenApiExample(
            "Unknown time zone",
            value={
                "detail": "Invalid input: tz.",
                "errors": {"tz": ["Unknown time zone; use an IANA name such as Europe/Paris."]},
            },
            response_only=True,
        )
    ],
)


def _query(
    name: str, kind, description: str, example, *, not_set: bool = False
) -> OpenApiParameter:
    """A query parameter; ``not_set`` (an example with the empty value, first, so that Swagger
    UI's "Try it out", which takes the first example, sends nothing: goals.schema) where the
    empty value means "not given" (``delight.openapi.EMPTY_MEANS_ABSENT``) and its schema holds
    it (a string; not an integer or an enum)."""
    examples = [OpenApiExample(name, value=example)]
    if not_set:
        examples.insert(0, OpenApiExample("Not set", value="", summary="(not set)"))
    return OpenApiParameter(
        name, kind, OpenApiParameter.QUERY, description=description, examples=examples
    )


PAGE_PARAMETERS = [
    _query(
        "cursor",
        {"type": "string", "maxLength": 200},
        "The `next_cursor` of the page before; absent for the first page (empty is 422).",
        "MTc2NDk5NDY2MjEyMzQ1Ni43ZDBjNWYwZTNhNGU0YjhlOWE1OTBjMWQyZTNmNGE1Yg",
    ),
    _query(
        "page_size",
        {"type": "integer", "minimum": 1, "maximum": history.MAX_PAGE_SIZE, "default": 50},
        "Events per page, 1 to 100 (default 50).",
        20,
    ),
]


def _timestamp(name: str, description: str) -> OpenApiParameter:
    return _query(
        name,
        OpenApiTypes.DATETIME,
        f"{description} RFC 3339 with a zone (`Z` or an offset; send a `+` as `%2B`); a naive or "
        "malformed one is 422. Inclusive.",
        "2026-11-18T10:30:00Z",
        not_set=True,
    )


USER_HISTORY_PARAMETERS = [
    *PAGE_PARAMETERS,
    _timestamp("occurred_after", "Events at or after this instant."),
    _timestamp(
        "occurred_before", "Events at or before this instant; earlier than `occurred_after` is 422."
    ),
    _query(
        "goal_type",
        {"type": "string", "enum": GoalType.values},
        "Only the events of goals of this type (the goal's current one).",
        "concrete",
    ),
    _query(
        "value_category",
        {"type": "string", "enum": ValueCategory.values},
        "Only the events of goals of this category (the goal's current one).",
        "health",
    ),
]
TZ = _query(
    "tz",
    {"type": "string", "maxLength": 64, "default": "UTC"},
    'The IANA time zone that sets "today" and the day each goal was completed (default '
    "UTC, also when empty); an unknown one is 422.",
    "Europe/Paris",
    not_set=True,
)

PAGE_DESCRIPTION = (
    " Each event is one write that changed at least one of `title`, `description`, `goal_type`, "
    "`value_category`, `target_date`, `status`, whoever made it (`actor`); `changes` holds "
    "exactly the fields it changed. Events are never edited; ties in `occurred_at` are broken "
    "by `id`, so pages never repeat or skip one. Follow `next_cursor` for the next page."
)

GOAL_HISTORY = extend_schema(
    operation_id="listGoalHistory",
    tags=TAGS,
    summary="A goal's history",
    description="This goal's events, newest first, from its creation on." + PAGE_DESCRIPTION,
    parameters=[*PAGE_PARAMETERS, *ANSWER_HEADERS],
    responses={
        200: GoalHistoryPageSerializer,
        404: NOT_FOUND,
        422: BAD_PARAMETER,
        **READ,
    },
    examples=[HISTORY_PAGE],
)
USER_HISTORY = extend_schema(
    operation_id="listAllGoalHistory",
    tags=TAGS,
    summary="The history of all my goals",
    description="The events of all my goals, newest first, archived ones included."
    + PAGE_DESCRIPTION,
    parameters=[*USER_HISTORY_PARAMETERS, *ANSWER_HEADERS],
    responses={200: GoalHistoryPageSerializer, 422: BAD_PARAMETER, **READ},
    examples=[HISTORY_PAGE],
)
INSIGHTS = extend_schema(
    operation_id="getGoalInsights",
    tags=TAGS,
    summary="My goals summed up",
    description="Counts by current status for every value category and goal type (zeros "
    "included), completion rates (archived goals left out), how completed goals met their "
    "target dates (a goal's completion time is when its status last became `completed`), and "
    "the deadlines ahead. `tz` sets today.",
    parameters=[TZ, *ANSWER_HEADERS],
    responses={200: InsightsSerializer, 422: UNKNOWN_ZONE, **READ},
    examples=[INSIGHTS_EXAMPLE],
)

"""What the history and insights routes read and write: their query parameters, each route's
validated once, up front, by one serializer (a 422 naming every bad parameter, before any query
is built), and their answers.

An empty parameter (``?goal_type=``) means the parameter is absent, as on the goal list; unknown
parameters are ignored.
"""

from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from django import forms
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from delight.openapi import EMPTY_MEANS_ABSENT
from goals import history
from goals.filters import TimestampField
from goals.models import (
    TRACKED_FIELDS,
    Actor,
    GoalEventAction,
    GoalStatus,
    GoalType,
    ValueCategory,
)
from goals.serializers import choice_field

# A change as OpenAPI says it: any JSON value (a string, a YYYY-MM-DD date, or null) each side.
_VALUE = {"nullable": True, "description": "The field's JSON value (a date as YYYY-MM-DD)."}
CHANGES = {
    "type": "object",
    "additionalProperties": {
        "type": "object",
        "properties": {"from": _VALUE, "to": _VALUE},
        "required": ["from", "to"],
    },
    "example": {"status": {"from": "active", "to": "paused"}},
}

# --- Query parameters -------------------------------------------------------------------------


class TimestampParam(serializers.Field):
    """An RFC 3339 timestamp with its zone, read as the goal list reads ``updated_after``."""

    def to_internal_value(self, data):
        try:
            return TimestampField().clean(data)
        except forms.ValidationError as error:
            raise serializers.ValidationError(
                [item.message % (item.params or ()) for item in error.error_list]
            ) from None


@cache
def _zones() -> frozenset[str]:
    # "localtime" is a file in the zone directory (Debian's link to /etc/localtime), not an
    # IANA name: whatever zone the server runs in.
    return frozenset(available_timezones()) - {"localtime"}


class TimeZoneParam(serializers.Field):
    """An IANA time zone name (``Europe/Paris``, ``UTC``), as a ``ZoneInfo``."""

    default_error_messages = {
        "unknown": "Unknown time zone; use an IANA name such as Europe/Paris."
    }

    def to_internal_value(self, data) -> ZoneInfo:
        if not isinstance(data, str) or data not in _zones():
            self.fail("unknown")
        return ZoneInfo(data)


class HistoryParams(serializers.Serializer):
    cursor = serializers.CharField(required=False, max_length=200)
    page_size = serializers.IntegerField(
        min_value=1,
        max_value=history.MAX_PAGE_SIZE,
        default=history.DEFAULT_PAGE_SIZE,
        required=False,
    )

    def validate_cursor(self, value: str):
        return history.decode_cursor(value)


class UserHistoryParams(HistoryParams):
    occurred_after = TimestampParam(required=False)
    occurred_before = TimestampParam(required=False)
    goal_type = choice_field(GoalType, required=False)
    value_category = choice_field(ValueCategory, required=False)

    def validate(self, attrs):
        after, before = attrs.get("occurred_after"), attrs.get("occurred_before")
        if after is not None and before is not None and after > before:
            raise serializers.ValidationError(
                {"occurred_after": ["Must not be later than occurred_before."]}
            )
        return attrs


class InsightsParams(serializers.Serializer):
    tz = TimeZoneParam(required=False, default=ZoneInfo("UTC"))


def validated(params_class, query_params) -> dict:
    """The query parameters ``params_class`` declares, validated; a 422 naming each bad one.
    As on the goal list, an empty value is a parameter not given (``?page_size=`` is the default
    page size), which the OpenAPI document declares (``EMPTY_MEANS_ABSENT``), but for an empty
    ``cursor``: it names no position, a 422."""
    data = {
        name: query_params[name]
        for name in params_class._declared_fields
        if name in query_params and (query_params[name] or name not in EMPTY_MEANS_ABSENT)
    }
    params = params_class(data=data)
    if not params.is_valid():
        raise serializers.ValidationError(params.errors)
    return params.validated_data


# --- Answers ----------------------------------------------------------------------------------


@extend_schema_field(CHANGES)
class ChangesField(serializers.JSONField):
    """``{"<field>": {"from": <JSON value>, "to": <JSON value>}}``, exactly the changed fields,
    in the goal's order, ``from`` first (PostgreSQL's jsonb keeps its own key order)."""

    def to_representation(self, value: dict) -> dict:
        return {
            field: {"from": value[field]["from"], "to": value[field]["to"]}
            for field in TRACKED_FIELDS
            if field in value
        }


class GoalEventSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    goal_id = serializers.UUIDField()
    occurred_at = serializers.DateTimeField()
    action = serializers.ChoiceField(
        choices=GoalEventAction.choices,
        help_text="`created` (every field, each from null), `archived` (status became "
        "archived), `restored` (status left archived), else `updated`.",
    )
    changes = ChangesField(help_text="Exactly the fields that changed, each `from` and `to`.")
    actor = serializers.ChoiceField(
        choices=Actor.choices,
        help_text="`user`: the owner through the API; `staff`: the admin; `system`: anything "
        "else (a management command, a migration, SQL).",
    )


class GoalHistoryPageSerializer(serializers.Serializer):
    results = GoalEventSerializer(many=True)
    next_cursor = serializers.CharField(
        allow_null=True, help_text="Send as `cursor` for the next page; null on the last page."
    )


def _counts(name: str, names, field, **extra) -> type[serializers.Serializer]:
    """A serializer class with one ``field()`` per name (every status, category or type
    appears, zeros included), then ``extra``'s fields, each made by its factory."""
    fields = {key: field() for key in names}
    fields.update((key, make()) for key, make in extra.items())
    return type(name, (serializers.Serializer,), fields)


def _count():
    return serializers.IntegerField(min_value=0)


def _completion_rate():
    return serializers.FloatField(
        allow_null=True,
        help_text="completed / (active + paused + completed); null when that is 0/0. Archived "
        "goals are left out.",
    )


StatusCountsSerializer = _counts("StatusCountsSerializer", GoalStatus.values, _count)
TypeCountsSerializer = _counts(
    "TypeCountsSerializer", GoalStatus.values, _count, completion_rate=_completion_rate
)
ByValueCategorySerializer = _counts(
    "ByValueCategorySerializer", ValueCategory.values, StatusCountsSerializer
)
ByGoalTypeSerializer = _counts("ByGoalTypeSerializer", GoalType.values, TypeCountsSerializer)


class CompletedGoalsSerializer(serializers.Serializer):
    count = serializers.IntegerField(min_value=0)
    on_time = serializers.IntegerField(
        min_value=0, help_text="Completed on or before the target date (the day in `tz`)."
    )
    late = serializers.IntegerField(min_value=0, help_text="Completed after the target date.")
    without_target_date = serializers.IntegerField(min_value=0)
    median_days_to_complete = serializers.FloatField(
        allow_null=True,
        help_text="Median of (completion time - created_at) in days, one decimal; null when "
        "nothing is completed. The completion time is when the status last became completed.",
    )


class InsightsSerializer(serializers.Serializer):
    today = serializers.DateField(help_text="Today in `tz`.")
    by_value_category = ByValueCategorySerializer(help_text="Goals by current status.")
    by_goal_type = ByGoalTypeSerializer(help_text="Goals by current status, and completion rate.")
    completed = CompletedGoalsSerializer()
    overdue = serializers.IntegerField(
        min_value=0, help_text="Active or paused goals whose target date is before today."
    )
    due_within_30_days = serializers.IntegerField(
        min_value=0, help_text="Active or paused goals due from today to today + 30 days."
    )

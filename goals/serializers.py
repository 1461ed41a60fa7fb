"""The goal's JSON representation, and the validation of what clients may write.

Writes accept only the contract's writable fields: a read-only field or an unknown key is refused
by name (422), never silently dropped, so a client learns at once that ``user_id`` or a misspelt
``titel`` did nothing.
"""

from collections.abc import Callable, Mapping
from functools import cache
from operator import attrgetter
from typing import NamedTuple

from django.db.models import Expression, F, Func, TextField
from django.db.models.functions import Cast
from rest_framework import serializers

from goals.days import parse_day
from goals.models import (
    DESCRIPTION_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    GoalStatus,
    GoalType,
    ValueCategory,
)


class StrictCharField(serializers.CharField):
    """Text only: DRF would turn ``1``, ``1e400`` or ``true`` into the strings "1", "inf", "True".

    Also refuses lone surrogates (``"\\ud800"`` is valid JSON but not encodable as UTF-8, so
    PostgreSQL could never store it); DRF's CharField already refuses NUL characters.
    """

    default_error_messages = {
        "invalid": "Not a valid string.",
        "surrogates": "Text must be valid Unicode (no lone surrogate characters).",
    }

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        try:
            data.encode("utf-8")
        except UnicodeEncodeError:
            self.fail("surrogates")
        return super().to_internal_value(data)


class StrictDateField(serializers.DateField):
    """Exactly ``YYYY-MM-DD``, a day of the calendar (goals.days)."""

    def to_internal_value(self, value):
        try:
            return parse_day(value)
        except ValueError as error:
            raise serializers.ValidationError(str(error), code="invalid") from None


def choice_field(choices: type, **kwargs) -> serializers.ChoiceField:
    """A choice field whose error lists the allowed values."""
    allowed = ", ".join(choices.values)
    return serializers.ChoiceField(
        choices=choices.choices,
        error_messages={"invalid_choice": f'"{{input}}" is not valid; use one of: {allowed}.'},
        **kwargs,
    )


# Speed-up (docs/PERFORMANCE.md): DRF deep-copies every declared field for every serializer,
# re-running each field's __init__. A shallow copy is enough: binding sets the field's name and
# parent on the copy, and what copies share (validators, choices, error messages) is only read
# (tests/goals/test_serializer.py). The copy is ``copy.copy``'s for an object without
# ``__copy__`` (a new object of the class, the attributes of the original), made directly: the
# generic path through ``__reduce_ex__`` cost three times as much. (A comment, not a docstring:
# drf-spectacular publishes a serializer's inherited docstring as its schema's description.)
class SharedFieldsMixin:
    def get_fields(self):
        return {name: _shallow_copy(field) for name, field in self._declared_fields.items()}


def _shallow_copy(field):
    copied = object.__new__(type(field))
    copied.__dict__.update(field.__dict__)
    return copied


# A goal as the contract shows it, and the validation of what clients write: the one place that
# knows the goal's JSON. (A comment, not a docstring: drf-spectacular would publish it.)
class GoalSerializer(SharedFieldsMixin, serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    user_id = serializers.CharField(
        source="user.public_id",
        read_only=True,
        help_text="The owner's Clerk user id (for a local staff account, its own id).",
    )
    title = StrictCharField(
        max_length=TITLE_MAX_LENGTH, help_text="Surrounding whitespace is trimmed."
    )
    description = StrictCharField(
        max_length=DESCRIPTION_MAX_LENGTH,
        allow_null=True,
        allow_blank=True,
        trim_whitespace=False,
        required=False,
    )
    goal_type = choice_field(
        GoalType,
        help_text='`abstract`: a broad aspiration to decompose ("Be healthier"); '
        '`concrete`: specific and measurable ("Run 5k under 30 minutes").',
    )
    value_category = choice_field(
        ValueCategory,
        help_text="The need the goal serves: `health` (physical and mental well-being), `craft` "
        "(creative expression, skill mastery), `growth` (learning), `connection` (relationships).",
    )
    target_date = StrictDateField(
        allow_null=True, required=False, help_text="YYYY-MM-DD; past dates are allowed."
    )
    status = choice_field(
        GoalStatus,
        required=False,
        help_text="Defaults to `active`. `archived` is a soft delete; setting another status "
        "restores the goal.",
    )

    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    def to_representation(self, goal):
        """The fields declared above, read from ``goal`` (a model instance or a list row with
        ``columns()``), each value left as Python's (UUID, date, UTC datetime) for the JSON
        renderer, which writes it as the field would (tests/goals/test_serializer.py). The
        owner's id comes from the view's context (every goal a view shows is the signed-in
        user's), else from the goal's owner.

        Speed-up (docs/PERFORMANCE.md): DRF's own loop calls two methods of every field for
        every goal, eight times the time (87 µs a goal here against 11)."""
        reading = _reading(type(self))
        values = list(reading.own_values(goal))
        values.insert(reading.owner_at, reading.owner_value(self.context.get("owner") or goal.user))
        return dict(zip(reading.names, values, strict=True))

    @classmethod
    def columns(cls) -> list[str]:
        """The model fields the representation reads: every declared field's source but the
        owner's."""
        return list(_reading(cls).own_sources)

    @classmethod
    def written_by_postgresql(cls, owner: Expression) -> Expression:
        """The representation of a row of ``goals``, written by PostgreSQL as JSON text: the same
        fields, the same values, the same bytes (tests/goals/test_serializer.py). ``owner``: an
        expression for the owner's public id. A list page's goals are written so
        (goals.selectors): 50 goals read and represented in Python cost more than the rest of
        the request (docs/PERFORMANCE.md)."""
        members = {}
        for name, field in cls._declared_fields.items():
            source = field.source or name
            if source.startswith("user."):
                members[name] = _JSONValue(Cast(owner, TextField()))
            elif isinstance(field, serializers.DateTimeField):
                members[name] = _JSONTimestamp(F(source))
            elif isinstance(field, _WRITTEN_AS_TO_JSON_WRITES_THEM):
                members[name] = _JSONValue(F(source))
            else:
                raise TypeError(f"{name}: no SQL rendering for a {type(field).__name__}")
        return _JSONObject(**members)

    def to_internal_value(self, data):
        errors = {}
        if isinstance(data, Mapping):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            for key in data:
                if key in self.fields and key not in writable:
                    errors[key] = ["This field is read-only."]
                elif key not in writable:
                    errors[key] = ["Unknown field."]
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if not isinstance(exc.detail, dict):
                raise
            errors = {**exc.detail, **errors}
        if errors:
            raise serializers.ValidationError(errors)
        return value


# Fields whose representation is PostgreSQL's to_json of the column: text as a JSON string, a
# UUID as its hyphenated lower-case text, a date as YYYY-MM-DD.
_WRITTEN_AS_TO_JSON_WRITES_THEM = (
    serializers.CharField,
    serializers.ChoiceField,
    serializers.UUIDField,
    serializers.DateField,
)


class _JSONValue(Func):
    """A value as JSON text (``null`` for NULL)."""

    template = "COALESCE(to_json(%(expressions)s)::text, 'null')"
    output_field = TextField()


class _JSONTimestamp(Func):
    """A timestamp as DRF writes it, in UTC: ``2026-12-06T10:31:02.123456Z``, without the
    fraction when it is zero (``datetime.isoformat``)."""

    template = (
        "COALESCE('\"' || to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') "
        "|| CASE WHEN to_char(%(expressions)s, 'US') = '000000' THEN '' "
        "ELSE to_char(%(expressions)s AT TIME ZONE 'UTC', '.US') END || 'Z\"', 'null')"
    )
    output_field = TextField()


class _JSONObject(Func):
    """``{"name": value, ...}`` from JSON texts, in the order given, compact."""

    output_field = TextField()

    def __init__(self, **members: Expression):
        if not all(name.isidentifier() for name in members):
            raise ValueError("member names are written into the SQL: identifiers only")
        self.names = list(members)
        super().__init__(*members.values())

    def as_sql(self, compiler, connection, **extra):
        pieces, params = [], []
        for at, (name, value) in enumerate(
            zip(self.names, self.get_source_expressions(), strict=True)
        ):
            sql, value_params = compiler.compile(value)
            pieces.append(f"'{',' if at else '{'}\"{name}\":' || {sql}")
            params.extend(value_params)
        return f"({' || '.join(pieces)} || '}}')", params


class _Reading(NamedTuple):
    names: list[str]  # the declared fields, in order
    own_sources: list[str]  # the sources (model attributes) of those read from the goal itself
    own_values: Callable  # goal -> their values, in that order
    owner_at: int  # where the one field read from the owner (source "user.<attribute>") goes
    owner_value: Callable  # owner -> its value


@cache
def _reading(serializer_class) -> _Reading:
    """How a serializer class's declared fields are read from a goal, worked out once."""
    declared = [
        (name, field.source or name) for name, field in serializer_class._declared_fields.items()
    ]
    ((owner_at, owner_source),) = [
        (at, source) for at, (_, source) in enumerate(declared) if source.startswith("user.")
    ]
    own_sources = [source for at, (_, source) in enumerate(declared) if at != owner_at]
    return _Reading(
        names=[name for name, _ in declared],
        own_sources=own_sources,
        own_values=attrgetter(*own_sources),
        owner_at=owner_at,
        owner_value=attrgetter(owner_source.removeprefix("user.")),
    )

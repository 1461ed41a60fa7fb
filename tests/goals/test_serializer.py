"""The serializer's two speed-ups give exactly what DRF gives without them."""

import datetime as dt
import json

import pytest
from rest_framework import serializers

from delight.renderers import JSONRenderer
from goals.models import Goal
from goals.serializers import GoalSerializer
from tests.factories import GoalFactory, UserFactory

pytestmark = pytest.mark.django_db


class PlainGoalSerializer(GoalSerializer):
    """GoalSerializer with DRF's own field handling: the reference."""

    def get_fields(self):
        return serializers.Serializer.get_fields(self)

    def to_representation(self, instance):
        return serializers.Serializer.to_representation(self, instance)


def rendered(data) -> dict:
    return json.loads(JSONRenderer().render(data))


def test_the_representation_renders_as_drf_fields_do():
    user = UserFactory()
    GoalFactory(user=user, target_date=dt.date(2026, 5, 15), description=None)
    GoalFactory(user=user, title="Ünïcödé ✓", description="multi\nline", status="paused")
    Goal.objects.filter(user=user).update(created_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    goals = list(Goal.objects.owned_by(user))
    assert len(goals) == 2
    for goal in goals:
        expected = rendered(PlainGoalSerializer(goal).data)
        assert rendered(GoalSerializer(goal).data) == expected
        assert expected["created_at"] == "2026-01-01T00:00:00Z"
        assert expected["user_id"] == user.clerk_user_id
    assert rendered(GoalSerializer(goals, many=True).data) == rendered(
        PlainGoalSerializer(goals, many=True).data
    )


def test_a_created_goal_renders_as_drf_fields_do():
    """Values straight from INSERT ... RETURNING (and the status default), not from a read."""
    goal = Goal.objects.create(
        user=UserFactory(), title="Fresh", goal_type="abstract", value_category="craft"
    )
    assert rendered(GoalSerializer(goal).data) == rendered(PlainGoalSerializer(goal).data)


def test_shallow_copied_fields_are_bound_to_their_own_serializer():
    partial = GoalSerializer(data={"title": "Only a title"}, partial=True)
    full = GoalSerializer(data={"title": "Only a title"})
    assert partial.is_valid()
    assert not full.is_valid()
    assert set(full.errors) == {"goal_type", "value_category"}
    assert partial.fields["title"].parent is partial
    assert full.fields["title"].parent is full
    assert partial.is_valid()  # still partial after the other one validated
    assert GoalSerializer._declared_fields["title"].parent is None  # the class's stay unbound


def test_shallow_copies_give_the_errors_drf_gives():
    body = {"title": " ", "goal_type": "x", "value_category": None, "target_date": "2026-1-5"}
    ours, plain = GoalSerializer(data=body), PlainGoalSerializer(data=body)
    assert not ours.is_valid()
    assert not plain.is_valid()
    assert ours.errors == plain.errors


def _state(field) -> dict:
    """A declared field's attributes, containers copied, so later changes show."""
    return {
        name: (dict(value) if isinstance(value, dict) else list(value))
        if isinstance(value, dict | list)
        else value
        for name, value in vars(field).items()
    }


def test_the_state_shallow_copies_share_is_only_read():
    """DRF deep-copies fields because binding writes to them; a shallow copy is safe only if
    nothing writes to what the copies share (validators, choices, error messages). Validate,
    fail and render through many serializers, and the declared fields are as they were."""
    before = {name: _state(field) for name, field in GoalSerializer._declared_fields.items()}
    goal = GoalFactory()
    bodies = [
        {"title": "ok", "goal_type": "concrete", "value_category": "craft", "status": "paused"},
        {"title": " ", "goal_type": "x", "value_category": 1, "target_date": "nope"},
        {"title": "x" * 300, "description": "y" * 3000, "status": None, "extra": True},
    ]
    for body in bodies:
        for partial in (False, True):
            serializer = GoalSerializer(goal, data=body, partial=partial)
            serializer.is_valid()
            _ = serializer.errors
            _ = GoalSerializer(goal).data
            _ = serializer.fields["goal_type"].validators, serializer.fields["title"].validators
    after = {name: _state(field) for name, field in GoalSerializer._declared_fields.items()}
    assert after == before


def test_the_fields_shallow_copy_is_copy_copys():
    """goals.serializers._shallow_copy is what copy.copy does for a field: a field class that
    takes over its copying (``__copy__``, ``__reduce_ex__``) or keeps ``__slots__`` fails here."""
    import copy

    from goals.serializers import _shallow_copy

    for field in GoalSerializer._declared_fields.values():
        cls = type(field)
        assert "__copy__" not in dir(cls)
        assert not any("__slots__" in vars(base) for base in cls.__mro__ if base is not object)
        assert cls.__reduce_ex__ is object.__reduce_ex__
        copied, expected = _shallow_copy(field), copy.copy(field)
        assert type(copied) is type(expected) is cls
        assert vars(copied) == vars(expected) == vars(field)
        assert copied is not field


@pytest.mark.parametrize(
    ("title", "description"),
    [
        ("Plain", None),
        ("Ünïcödé ✓ 🎯 中文", ""),
        ('Quotes " and \\ backslashes', "multi\nline\r\nwith\ttabs"),
        ("Control \x01\x08\x0c\x1f\x7f chars", "</script><!-- & ' \u2028 \u2029"),
        ("   spaces kept inside  ", "é" * 2000),
    ],
)
@pytest.mark.parametrize(
    "instant",
    [
        dt.datetime(2026, 1, 1, tzinfo=dt.UTC),  # no fraction: none written
        dt.datetime(2026, 12, 6, 10, 31, 2, 123456, tzinfo=dt.UTC),
        dt.datetime(2026, 12, 6, 10, 31, 2, 120000, tzinfo=dt.UTC),  # trailing zeros kept
        dt.datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=dt.UTC),
    ],
)
def test_the_json_postgresql_writes_is_the_representation_byte_for_byte(
    title, description, instant
):
    """goals.selectors writes a list page's goals with GoalSerializer.written_by_postgresql: the
    same keys in the same order, the same values, the same bytes as the representation rendered
    by the API's renderer (and so as DRF's own fields)."""
    from django.db.models import Value

    user = UserFactory(clerk_user_id='user_"quoted"\\id')
    goal = GoalFactory(user=user, title=title, description=description)
    Goal.objects.filter(pk=goal.pk).update(
        created_at=instant, target_date=dt.date(2026, 5, 15) if description else None
    )
    Goal.objects.filter(pk=goal.pk).update(status="paused")  # the trigger sets updated_at: now
    (stored,) = Goal.objects.filter(pk=goal.pk)
    expected = JSONRenderer().render(GoalSerializer(stored, context={"owner": user}).data)
    written = (
        Goal.objects.filter(pk=goal.pk)
        .annotate(goal=GoalSerializer.written_by_postgresql(Value(user.public_id)))
        .values_list("goal", flat=True)
        .get()
    )
    assert written.encode() == expected
    assert json.loads(written) == rendered(PlainGoalSerializer(stored).data)

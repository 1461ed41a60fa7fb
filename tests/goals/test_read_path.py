"""The fast read path gives exactly what the plain DRF path gives."""

import datetime as dt
import json
import uuid

import pytest
from django.test import RequestFactory
from rest_framework import serializers
from rest_framework.request import Request

from delight.renderers import JSONRenderer
from goals import queries
from goals.filters import GoalFilter
from goals.models import Goal
from goals.serializers import READ_COLUMNS, GoalSerializer, goal_representation
from tests.factories import GoalFactory, UserFactory

pytestmark = pytest.mark.django_db


class PlainGoalSerializer(serializers.ModelSerializer):
    """What DRF would write with no help: the reference for goal_representation()."""

    user_id = serializers.CharField(source="user.public_id")

    class Meta:
        model = Goal
        fields = list(GoalSerializer().fields)


def rendered(data) -> dict:
    return json.loads(JSONRenderer().render(data))


def test_fast_representation_renders_as_drf_fields_do():
    user = UserFactory()
    goals = [
        GoalFactory(user=user, target_date=dt.date(2026, 5, 15), description=None),
        GoalFactory(user=user, title="Ünïcödé ✓", description="multi\nline"),
    ]
    Goal.objects.filter(pk=goals[0].pk).update(created_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    rows = dict(Goal.objects.filter(user=user).values_list("pk", "pk"))
    for goal in Goal.objects.filter(pk__in=rows).select_related("user"):
        expected = rendered(PlainGoalSerializer(goal).data)
        assert rendered(GoalSerializer(goal).data) == expected
        assert (
            rendered(goal_representation(queries.goal_row(user, goal.pk), user.public_id))
            == expected
        )
    assert rendered(PlainGoalSerializer(Goal.objects.get(pk=goals[0].pk)).data)["created_at"] == (
        "2026-01-01T00:00:00Z"
    )


def test_fast_representation_of_a_non_utc_datetime():
    goal = GoalFactory()
    goal.created_at = goal.created_at.astimezone(dt.timezone(dt.timedelta(hours=5, minutes=30)))
    assert (
        rendered(GoalSerializer(goal).data)["created_at"]
        == rendered(PlainGoalSerializer(goal).data)["created_at"]
    )
    assert rendered(GoalSerializer(goal).data)["created_at"].endswith("Z")


def test_the_renderer_falls_back_for_what_orjson_cannot_write():
    assert json.loads(JSONRenderer().render({"page": 10**30})) == {"page": 10**30}


@pytest.mark.parametrize("query", ["", "?colour=blue", "?page=1&page_size=10"])
def test_the_precompiled_default_list_equals_the_filterset(query):
    user = UserFactory()
    other = UserFactory()
    for status in ("active", "paused", "completed", "archived"):
        GoalFactory.create_batch(3, user=user, status=status)
        GoalFactory(user=other, status=status)
    tied = list(Goal.objects.filter(user=user).values_list("pk", flat=True)[:4])
    Goal.objects.filter(pk__in=tied).update(
        created_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    )  # ties
    request = Request(RequestFactory().get(f"/api/v1/goals{query}"))
    through_filterset = GoalFilter(request.query_params, queryset=Goal.objects.owned_by(user)).qs
    expected = list(through_filterset.values_list(*READ_COLUMNS))
    precompiled = queries.GoalRows(
        GoalFilter.default(Goal.objects.owned_by(user)).values_list(*READ_COLUMNS),
        user,
        counted=True,
        precompiled=True,
    )
    assert precompiled.count() == len(expected) == 9
    assert precompiled[0:100] == expected
    assert precompiled[2:5] == expected[2:5]
    assert precompiled[9:20] == []


def test_the_precompiled_detail_is_scoped_to_its_owner():
    mine, theirs = GoalFactory(), GoalFactory()
    assert (
        queries.goal_row(mine.user, mine.pk)
        == Goal.objects.filter(pk=mine.pk).values_list(*READ_COLUMNS)[0]
    )
    assert queries.goal_row(mine.user, theirs.pk) is None
    assert queries.goal_row(mine.user, uuid.uuid4()) is None


def test_serializers_do_not_share_bound_fields():
    """GoalSerializer copies its declared fields shallowly; each copy is bound to its own parent."""
    partial = GoalSerializer(data={"title": "Only a title"}, partial=True)
    full = GoalSerializer(data={"title": "Only a title"})
    assert partial.is_valid()
    assert not full.is_valid()
    assert set(full.errors) == {"goal_type", "value_category"}
    assert partial.fields["title"].parent is partial
    assert full.fields["title"].parent is full
    assert partial.is_valid()  # still partial after the other one validated

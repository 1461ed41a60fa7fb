"""The fast read path gives exactly what the plain DRF path gives."""

import datetime as dt
import uuid

import pytest
from django.test import RequestFactory
from rest_framework import serializers
from rest_framework.request import Request

from goals import queries
from goals.filters import GoalFilter
from goals.models import Goal
from goals.serializers import READ_COLUMNS, GoalSerializer
from tests.factories import GoalFactory, UserFactory

pytestmark = pytest.mark.django_db


class PlainGoalSerializer(serializers.ModelSerializer):
    """What DRF would write with no help: the reference for goal_representation()."""

    user_id = serializers.CharField(source="user.public_id")

    class Meta:
        model = Goal
        fields = GoalSerializer.Meta.fields


def test_fast_representation_equals_drf_fields():
    user = UserFactory()
    goals = [
        GoalFactory(user=user, target_date=dt.date(2026, 5, 15), description=None),
        GoalFactory(user=user, title="Ünïcödé ✓", description="multi\nline"),
    ]
    for goal in Goal.objects.filter(pk__in=[g.pk for g in goals]).select_related("user"):
        assert GoalSerializer(goal).data == PlainGoalSerializer(goal).data


def test_fast_representation_of_a_non_utc_datetime():
    goal = GoalFactory()
    goal.created_at = goal.created_at.astimezone(dt.timezone(dt.timedelta(hours=5, minutes=30)))
    assert GoalSerializer(goal).data["created_at"] == PlainGoalSerializer(goal).data["created_at"]


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
    precompiled = queries.VisibleGoals(user)
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

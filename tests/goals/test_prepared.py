"""Prepared queries (goals.prepared) give exactly what the ORM gives for the same queryset."""

import datetime as dt
import uuid

import pytest

from goals.models import Goal
from goals.pagination import DEFAULT_FIRST_PAGE, counted
from goals.prepared import PreparedQuery, Slot
from goals.views import GOAL_BY_ID
from tests.factories import GoalFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def owners():
    mine, theirs = UserFactory(), UserFactory()
    for status in ("active", "paused", "completed", "archived"):
        GoalFactory.create_batch(3, user=mine, status=status)
        GoalFactory(user=theirs, status=status)
    tied = list(Goal.objects.filter(user=mine).values_list("pk", flat=True)[:4])
    Goal.objects.filter(pk__in=tied).update(created_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
    return mine, theirs


@pytest.mark.parametrize("limit", [1, 5, 50])
def test_the_prepared_default_list_is_the_filtersets_default(owners, limit):
    from django.http import QueryDict

    from goals.filters import GoalFilter

    mine, _ = owners
    default = GoalFilter(QueryDict(""), queryset=Goal.objects.owned_by(mine)).qs
    expected = list(counted(default)[:limit])
    prepared = DEFAULT_FIRST_PAGE.rows(owner=mine.pk, limit=limit)
    assert prepared == expected
    assert [row._fields for row in prepared] == [row._fields for row in expected]
    assert prepared[0].total_goals == 9  # visible goals: all but the 3 archived


def test_the_prepared_detail_is_scoped_to_its_owner(owners):
    mine, theirs = owners
    goal = Goal.objects.filter(user=mine).first()
    (row,) = GOAL_BY_ID.rows(owner=mine.pk, pk=goal.pk)
    rebuilt = Goal.from_db("default", row._fields, row)
    assert [getattr(rebuilt, f.attname) for f in Goal._meta.concrete_fields] == [
        getattr(goal, f.attname) for f in Goal._meta.concrete_fields
    ]
    assert GOAL_BY_ID.rows(owner=theirs.pk, pk=goal.pk) == []
    assert GOAL_BY_ID.rows(owner=mine.pk, pk=uuid.uuid4()) == []


def test_slots_are_found_by_identity_never_by_value(owners):
    """A constant of the query equal to a slot's value stays a constant."""
    mine, _ = owners
    goal = Goal.objects.filter(user=mine).first()
    query = PreparedQuery(
        lambda: Goal.objects.owned_by(Slot("owner")).filter(pk=goal.pk), model=Goal
    )
    assert len(query.rows(owner=mine.pk)) == 1
    (constant,) = [param for param in query._compiled[1] if not isinstance(param, Slot)]
    assert constant == goal.pk
    with pytest.raises(KeyError):
        query.rows()  # a slot without a value is an error, never a silent constant

"""Prepared queries (goals.prepared) give exactly what the ORM gives for the same queryset."""

import datetime as dt
import uuid

import pytest

from goals.history import marked
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


def _fields(goal) -> dict:
    return {field.attname: getattr(goal, field.attname) for field in Goal._meta.concrete_fields}


def _sql(captured) -> list[str]:
    return [query["sql"] for query in captured.captured_queries]


def _shape(statement: str) -> str:
    """A statement without its values (a slot is compiled as an expression: in parentheses)."""
    import re

    return re.sub(r"\(\?\)", "?", re.sub(r"'[^']*'(::\w+)?", "?", statement))


GIVEN = [
    {"title": "Sail", "goal_type": "concrete", "value_category": "craft"},
    {
        "title": "Sail",
        "description": "Dinghy first.",
        "goal_type": "concrete",
        "value_category": "craft",
        "target_date": dt.date(2027, 6, 1),
        "status": "paused",
    },
]


@pytest.mark.parametrize("given", GIVEN, ids=["fewest fields", "every writable field"])
def test_the_prepared_insert_is_the_orms_create(given):
    """The same statement as Goal.objects.create (values aside), and the goal it returns
    holds what the database holds, every field loaded (no query on reading one)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from goals.services import GOAL_INSERT

    owner = UserFactory()
    with CaptureQueriesContext(connection) as orm:
        Goal.objects.create(user=owner, **given)
    with CaptureQueriesContext(connection) as prepared:
        goal = GOAL_INSERT.create(user_id=owner.pk, **given)
    strip = str.maketrans("", "", "0123456789abcdef-")  # the ids and values that differ
    # The API's statement also names its writer for the goal's history (goals.history).
    expected = [marked("user") + s for s in _sql(orm)]
    assert [s.translate(strip) for s in _sql(prepared)] == [s.translate(strip) for s in expected]
    with CaptureQueriesContext(connection) as reads:
        loaded = _fields(goal)
    assert reads.captured_queries == []
    assert loaded == _fields(Goal.objects.get(pk=goal.pk))
    assert not goal._state.adding
    assert goal.status == given.get("status", "active")


def test_nothing_listens_for_the_saves_the_prepared_writes_skip():
    """PreparedInsert and PreparedUpdate send no pre_save/post_save: a receiver added for goals
    would be skipped silently, so this fails first."""
    from django.db.models.signals import post_save, pre_save

    assert not pre_save.has_listeners(Goal)
    assert not post_save.has_listeners(Goal)


def test_a_callable_default_is_never_frozen_into_a_prepared_insert():
    from accounts.models import User
    from goals.prepared import PreparedInsert

    with pytest.raises(ValueError, match="callable default"):
        PreparedInsert(User).create(username="clerk:user_frozen", clerk_user_id="user_frozen")


@pytest.mark.parametrize("with_versions", [False, True])
def test_the_prepared_update_is_querysets_update_returning(owners, with_versions):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from goals.services import _updated, goal_update

    mine, _ = owners
    goal = Goal.objects.filter(user=mine).first()
    target = Goal.objects.owned_by(mine).filter(pk=goal.pk)
    if with_versions:
        target = target.filter(updated_at=goal.updated_at)
    with CaptureQueriesContext(connection) as orm:
        target.update(title="Renamed once")
    goal.refresh_from_db()
    versions = [goal.updated_at] if with_versions else None
    with CaptureQueriesContext(connection) as prepared:
        goal_update(goal=goal, changes={"title": "Renamed twice"}, expected_versions=versions)
    ((statement,), (orm_statement,)) = _sql(prepared), _sql(orm)
    assert _shape(statement) == _shape(marked("user") + orm_statement + ' RETURNING "updated_at"')
    stored = _fields(Goal.objects.get(pk=goal.pk))
    # All the API shows, the trigger's updated_at included (not the search document).
    assert {**_fields(goal), "search_document": None} == {**stored, "search_document": None}
    assert _updated(versioned=False).query.where  # built through owned_by, never by hand


def test_an_if_match_of_any_length_is_one_statement(owners):
    """The statement checks the version read, one value: a header listing 4,700 versions (what
    32 KiB of header holds) neither grows the statements kept nor their size."""
    from goals.services import GOAL_UPDATE, StaleGoal, goal_update

    mine, _ = owners
    goal = Goal.objects.filter(user=mine).first()
    goal = goal_update(goal=goal, changes={"title": "Warm"}, expected_versions=[goal.updated_at])
    kept = GOAL_UPDATE._compiled.cache_info().currsize
    for count in (1, 10, 4_700):
        older = [goal.updated_at - dt.timedelta(seconds=s) for s in range(1, count + 1)]
        goal = goal_update(
            goal=goal,
            changes={"title": f"Try {count}"},
            expected_versions=[*older, goal.updated_at],
        )
        with pytest.raises(StaleGoal):
            goal_update(goal=goal, changes={"title": "No"}, expected_versions=older)
    assert GOAL_UPDATE._compiled.cache_info().currsize == kept
    assert Goal.objects.get(pk=goal.pk).title == "Try 4700"


def test_prepared_writes_refuse_expressions():
    """QuerySet.update(title=Upper("title")) compiles an expression per call; the prepared
    writes would send its repr as text, so they refuse it."""
    from django.db.models import F, Value
    from django.db.models.functions import Upper

    from goals.services import goal_create, goal_update

    owner = UserFactory()
    with pytest.raises(TypeError, match="not"):
        goal_create(
            user=owner, title=Upper(Value("x")), goal_type="abstract", value_category="craft"
        )
    goal = GoalFactory(user=owner)
    with pytest.raises(TypeError, match="not"):
        goal_update(goal=goal, changes={"description": F("title")})
    assert Goal.objects.get(pk=goal.pk).description == goal.description


def test_a_prepared_insert_refuses_what_the_model_would():
    from goals.services import GOAL_INSERT

    owner = UserFactory()
    for wrong in ({"titel": "Sail"}, {"pk": uuid.uuid4()}, {"user": owner}):
        with pytest.raises(TypeError, match="has no field"):
            GOAL_INSERT.create(user_id=owner.pk, goal_type="abstract", value_category="craft",
                               **{"title": "Sail", **wrong})  # fmt: skip
    assert not Goal.objects.filter(user=owner).exists()


def test_a_field_whose_pre_save_does_more_than_read_is_refused():
    """pre_save runs once, when the statement is compiled: auto_now would be frozen."""
    from django.db import models

    from goals.prepared import _plain

    assert all(_plain(field) for field in Goal._meta.local_concrete_fields)
    assert not _plain(models.DateTimeField(auto_now=True))
    assert not _plain(models.DateField(auto_now_add=True))
    assert not _plain(models.FileField())


def test_a_prepared_insert_leaves_an_auto_increment_to_the_database():
    """As save() does: an AutoField not given is not inserted (any default Django model)."""
    from django.contrib.contenttypes.models import ContentType

    from goals.prepared import PreparedInsert

    made = PreparedInsert(ContentType).create(app_label="prepared", model="probe")
    assert isinstance(made.pk, int)
    assert ContentType.objects.get(pk=made.pk).model == "probe"


def test_a_slot_named_as_a_changed_field_is_refused(owners):
    from django.db.models import CharField

    from goals.prepared import PreparedUpdate, Slot

    update = PreparedUpdate(
        lambda: Goal.objects.filter(title=Slot("title", CharField())),
        model=Goal,
        returning=("updated_at",),
    )
    with pytest.raises(ValueError, match="slots named as changed fields"):
        update.run({"title": "new"}, shape={}, title="old")

"""Prepared queries (goals.prepared) give exactly what the ORM gives for the same queryset."""

import datetime as dt
import uuid

import pytest
from django.db.models import Value

from goals.history import marked
from goals.models import Goal
from goals.prepared import PreparedQuery, Slot
from goals.selectors import DEFAULT_FIRST_PAGE, GOAL_BY_ID, counted
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
def test_the_prepared_default_list_is_the_params_default(owners, limit):
    from django.http import QueryDict

    from goals.filters import GoalListParams

    mine, _ = owners
    params = GoalListParams(QueryDict(""))
    assert params.is_valid()
    assert params.is_default_list()
    default = params.filter_queryset(Goal.objects.owned_by(mine))
    expected = list(counted(default, owner=Value(mine.public_id))[:limit])
    prepared = DEFAULT_FIRST_PAGE.rows(owner=mine.pk, owner_id=mine.public_id, limit=limit)
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


# What PreparedInsert and PreparedUpdate (goals/prepared.py) copy or drive of Django's write path,
# by the sha256 of its source in the Django they were written against (5.2), with what they rely
# on. A Django that changes one fails here (the equivalence tests above compare the statements,
# not what Django does around them): re-read that source against goals/prepared.py, bring the
# prepared writes in step, then record the new hash (as tests/delight/test_postgresql_backend.py
# does for create_cursor).
DJANGO_WRITE_PATH_SHA256 = {
    "django.db.models.base.Model._save_table": (
        "2a39268c21f5b8e6cfe0a1a92b12537879c24ebebf0f464e34bddd58ab6d38b2",
        "the fields save() inserts (an auto field left out, generated ones skipped) and returns",
    ),
    "django.db.models.base.Model._do_insert": (
        "7fc7e9ecbfc339912c48f21bbbd6abad931dfdb5ad1edf7912df23cb989f9f39",
        "save()'s INSERT: manager._insert with returning_fields",
    ),
    "django.db.models.base.Model.from_db": (
        "eba347895d11fa79360f63faaf121f62a8d9e10888ccff9a0441c535b2823295",
        "the instance PreparedInsert.create returns",
    ),
    "django.db.models.query.QuerySet._insert": (
        "99e47ddb286746af0f14632e7136539cdcd095846e7b6d5009845879f5b39c29",
        "InsertQuery + insert_values + execute_sql(returning_fields), done by hand in _compile",
    ),
    "django.db.models.sql.subqueries.InsertQuery.__init__": (
        "dec4863dd7433c4b475a02e6ddbd10099d2458d5d520ee368957a50149ac84ef",
        "InsertQuery(model), built directly",
    ),
    "django.db.models.sql.subqueries.InsertQuery.insert_values": (
        "c1a5f2f916964c6e79e80793078501e2c82e4fc9be998fb1cd1cd20700ff62d6",
        "one template object whose values are Slots",
    ),
    "django.db.models.sql.compiler.SQLInsertCompiler.as_sql": (
        "497ecc56a0916746171418f245e77705185e1b69451f95bd900688153492cca6",
        "reads compiler.returning_fields, which _compile sets instead of execute_sql",
    ),
    "django.db.models.sql.compiler.SQLInsertCompiler.execute_sql": (
        "e07a5017e3955572edf54ef9f91429a9a82be6d2b254fe04ada96e669a2525c2",
        "sets returning_fields, then as_sql: what _compile and create do in its place",
    ),
    "django.db.models.sql.compiler.SQLInsertCompiler.prepare_value": (
        "2e49a07e78afaae1d9ebffe16d5356db05e4d38cf469d360a7e3e350985cb336",
        "a Slot (an expression) resolved, not prepared with get_db_prep_save",
    ),
    "django.db.models.sql.compiler.SQLInsertCompiler.pre_save_val": (
        "f9efbaa8ba5cb0c8dc38ba7901aed3e03d1683b2c09de3ec947cdccb1c160a47",
        "pre_save runs at compile time (goals.prepared._plain)",
    ),
    "django.db.models.sql.compiler.SQLInsertCompiler.field_as_sql": (
        "505120b18cf35c28b40786f32464714122aef1b90d8e8965e5c44c2dfd74b92a",
        "a Slot compiled to its placeholder, the Slot itself its parameter",
    ),
    "django.db.models.sql.compiler.SQLInsertCompiler.assemble_as_sql": (
        "f29f9107f65c67189c712f80e62c24466d2ccaada3d197fc011883518f83d516",
        "the Slot parameters kept in order",
    ),
    "django.db.models.query.QuerySet.update": (
        "b5548a4c6dd93e5c4e7ad82a4fcd283c61bb6ee8732336d62ed9c9e894517e1c",
        "chain(UpdateQuery) + add_update_values, as PreparedUpdate._compile does; it skips the "
        "order_by inlining and clear_select_clause (the same statement all the same: "
        "test_the_prepared_update_is_querysets_update_returning)",
    ),
    "django.db.models.sql.subqueries.UpdateQuery.add_update_values": (
        "b6dd3a9720052bea365605a7681798b6b8ad007817a665e95870863ac5705e87",
        "the changed fields given as Slots",
    ),
    "django.db.models.sql.subqueries.UpdateQuery.add_update_fields": (
        "0143cf9933f7d2745093a485805cdfcc0460eac16fc0e75f3f1e5bd3138972cf",
        "a Slot kept as an expression (resolve_expression) in the SET clause",
    ),
    "django.db.models.sql.compiler.SQLUpdateCompiler.as_sql": (
        "3fd8726c853d7528c97637aca33c4688be012e2a43b6305c06e7c418094be818",
        "the statement RETURNING is appended to; Slots compiled as expressions",
    ),
    "django.db.models.fields.Field.get_db_prep_save": (
        "b095edabbe2f53fc82a58797cc1bc78d703b7740cef74af06d82768a9fbffcec",
        "how each written value is prepared per run (goals.prepared._Written)",
    ),
}


@pytest.mark.parametrize("qualified_name", list(DJANGO_WRITE_PATH_SHA256))
def test_the_django_write_path_the_prepared_writes_copy_is_unchanged(qualified_name):
    import hashlib
    import importlib
    import inspect

    module_name, class_name, attribute = qualified_name.rsplit(".", 2)
    source = inspect.getsource(
        getattr(getattr(importlib.import_module(module_name), class_name), attribute)
    )
    expected, relied_on = DJANGO_WRITE_PATH_SHA256[qualified_name]
    assert hashlib.sha256(source.encode()).hexdigest() == expected, (
        f"Django's {class_name}.{attribute} changed: goals/prepared.py relies on it ({relied_on}). "
        "Re-read it against PreparedInsert/PreparedUpdate, then record the new hash."
    )


def test_the_insert_compiler_still_takes_returning_fields_as_an_attribute():
    """PreparedInsert sets ``compiler.returning_fields`` before ``as_sql()``."""
    import inspect

    from django.db.models.sql.compiler import SQLInsertCompiler

    assert SQLInsertCompiler.returning_fields is None
    assert "self.returning_fields" in inspect.getsource(SQLInsertCompiler.as_sql)

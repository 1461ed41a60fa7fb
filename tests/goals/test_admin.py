"""The staff admin: usable, searchable, and a constant number of queries however many goals."""

import pytest

from goals.models import Goal, GoalStatus
from tests.factories import GoalFactory, UserFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/goals/goal/"


def test_goal_change_list_renders_with_owner_and_fields(admin_client):
    goal = GoalFactory(title="Learn to swim", user=UserFactory(clerk_user_id="user_swimmer"))
    page = admin_client.get(CHANGELIST).content.decode()
    assert "Learn to swim" in page
    assert "user_swimmer" in page
    assert str(goal.target_date or "-") in page or "-" in page


def test_change_list_query_count_does_not_grow_with_rows(
    admin_client, django_assert_max_num_queries
):
    GoalFactory.create_batch(5)
    with django_assert_max_num_queries(100) as few:
        admin_client.get(CHANGELIST)
    GoalFactory.create_batch(95)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = admin_client.get(CHANGELIST)
    assert response.context["cl"].result_count == 100


@pytest.mark.parametrize(
    ("query", "expected"),
    [("swim", "Learn to swim"), ("user_swimmer", "Learn to swim"), ("pool", "Learn to swim")],
)
def test_search_by_title_description_and_owner(admin_client, query, expected):
    GoalFactory(
        title="Learn to swim",
        description="in the pool",
        user=UserFactory(clerk_user_id="user_swimmer"),
    )
    GoalFactory(title="Write a novel")
    results = admin_client.get(CHANGELIST, {"q": query}).context["cl"].result_list
    assert [goal.title for goal in results] == [expected]


def test_search_by_owner_email(admin_client):
    GoalFactory(title="Mine", user=UserFactory(clerk_user_id="user_e", email="e@example.com"))
    GoalFactory(title="Other")
    results = admin_client.get(CHANGELIST, {"q": "e@example.com"}).context["cl"].result_list
    assert [goal.title for goal in results] == ["Mine"]


def test_filters(admin_client):
    GoalFactory(
        title="Paused one", status=GoalStatus.PAUSED, goal_type="abstract", value_category="health"
    )
    GoalFactory(title="Active one")
    for params in (
        {"status__exact": "paused"},
        {"goal_type__exact": "abstract"},
        {"value_category__exact": "health"},
    ):
        results = admin_client.get(CHANGELIST, params).context["cl"].result_list
        assert [goal.title for goal in results] == ["Paused one"], params


def test_change_form_renders_with_read_only_timestamps(admin_client):
    goal = GoalFactory()
    page = admin_client.get(f"{CHANGELIST}{goal.pk}/change/").content.decode()
    assert 'name="title"' in page
    assert 'name="created_at"' not in page
    assert 'name="updated_at"' not in page
    assert str(goal.pk) in page


def change_form_data(goal, **overrides):
    data = {
        "user": str(goal.user_id),
        "title": goal.title,
        "description": goal.description or "",
        "goal_type": goal.goal_type,
        "value_category": goal.value_category,
        "target_date": "",
        "status": goal.status,
    }
    data.update(overrides)
    return data


def test_edit_through_the_admin_saves_and_moves_updated_at(admin_client):
    goal = GoalFactory()
    response = admin_client.post(
        f"{CHANGELIST}{goal.pk}/change/", change_form_data(goal, title="Edited")
    )
    assert response.status_code == 302
    edited = Goal.objects.get(pk=goal.pk)
    assert edited.title == "Edited"
    assert edited.updated_at > goal.updated_at


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", "   "),
        ("title", "t" * 201),
        ("description", "d" * 2001),
        ("title", "nul\x00"),
        ("status", "gone"),
    ],
)
def test_bad_admin_input_is_a_form_error_not_a_500(admin_client, field, value):
    goal = GoalFactory()
    response = admin_client.post(
        f"{CHANGELIST}{goal.pk}/change/", change_form_data(goal, **{field: value})
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert Goal.objects.get(pk=goal.pk).title == goal.title


def test_add_through_the_admin(admin_client):
    owner = UserFactory()
    response = admin_client.post(
        f"{CHANGELIST}add/",
        {
            "user": str(owner.pk),
            "title": "Added by staff",
            "goal_type": "concrete",
            "value_category": "craft",
            "status": "active",
        },
    )
    assert response.status_code == 302
    assert Goal.objects.get(title="Added by staff").user == owner


def test_archive_and_restore_actions(admin_client):
    goals = GoalFactory.create_batch(2)
    pks = [str(goal.pk) for goal in goals]
    admin_client.post(CHANGELIST, {"action": "archive", "_selected_action": pks})
    assert set(Goal.objects.values_list("status", flat=True)) == {"archived"}
    admin_client.post(CHANGELIST, {"action": "restore", "_selected_action": pks})
    assert set(Goal.objects.values_list("status", flat=True)) == {"active"}


def test_user_admin_shows_clerk_id_and_goal_count_in_one_query(
    admin_client, django_assert_max_num_queries
):
    user = UserFactory(clerk_user_id="user_counted")
    GoalFactory.create_batch(3, user=user)
    with django_assert_max_num_queries(100) as few:
        admin_client.get("/admin/accounts/user/")
    for _ in range(20):
        GoalFactory(user=UserFactory())
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = admin_client.get("/admin/accounts/user/")
    page = response.content.decode()
    assert "user_counted" in page
    row = next(
        obj for obj in response.context["cl"].result_list if obj.clerk_user_id == "user_counted"
    )
    assert row.goal_total == 3


def test_user_change_form_renders(admin_client):
    user = UserFactory(clerk_user_id="user_form")
    page = admin_client.get(f"/admin/accounts/user/{user.pk}/change/").content.decode()
    assert 'name="clerk_user_id"' in page

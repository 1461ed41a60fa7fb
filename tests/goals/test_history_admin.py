"""A goal's history in the admin: staff's writes are recorded as staff's, and the goal's
"History" page shows every event (the API's included), readable by a person."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from goals.models import Goal, GoalEvent
from tests.conftest import client_for
from tests.factories import GoalFactory, UserFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/goals/goal/"


def actions_and_actors(goal) -> list[tuple[str, str]]:
    return list(
        GoalEvent.objects.filter(goal_id=goal.pk)
        .order_by("-occurred_at", "-id")
        .values_list("action", "actor")
    )


def form(goal, **overrides) -> dict:
    data = {
        "user": str(goal.user_id),
        "title": goal.title,
        "description": goal.description or "",
        "goal_type": goal.goal_type,
        "value_category": goal.value_category,
        "target_date": goal.target_date.isoformat() if goal.target_date else "",
        "status": goal.status,
    }
    return {**data, **overrides}


def test_a_change_form_save_is_staffs(admin_client):
    goal = GoalFactory()
    response = admin_client.post(f"{CHANGELIST}{goal.pk}/change/", form(goal, status="paused"))
    assert response.status_code == 302
    assert actions_and_actors(goal) == [("updated", "staff"), ("created", "system")]
    event = GoalEvent.objects.filter(goal_id=goal.pk).latest("occurred_at")
    assert event.changes == {"status": {"from": "active", "to": "paused"}}


@pytest.mark.parametrize("description", [None, "", "Two lines\nand a trailing space "])
def test_a_save_without_changes_records_nothing(admin_client, description):
    goal = GoalFactory(description=description)
    response = admin_client.post(f"{CHANGELIST}{goal.pk}/change/", form(goal))
    assert response.status_code == 302
    assert actions_and_actors(goal) == [("created", "system")]


def test_an_add_is_staffs(admin_client):
    owner = UserFactory()
    admin_client.post(
        f"{CHANGELIST}add/",
        {
            "user": str(owner.pk),
            "title": "Added by staff",
            "goal_type": "concrete",
            "value_category": "craft",
            "status": "active",
        },
    )
    assert actions_and_actors(Goal.objects.get(title="Added by staff")) == [("created", "staff")]


def test_archive_and_restore_actions_are_staffs(admin_client):
    goals = GoalFactory.create_batch(2)
    pks = [str(goal.pk) for goal in goals]
    admin_client.post(CHANGELIST, {"action": "archive", "_selected_action": pks})
    admin_client.post(CHANGELIST, {"action": "restore", "_selected_action": pks})
    for goal in goals:
        assert actions_and_actors(goal) == [
            ("restored", "staff"),
            ("archived", "staff"),
            ("created", "system"),
        ]


def test_the_superusers_erase_takes_the_history_along(admin_client):
    goal = GoalFactory()
    Goal.objects.filter(pk=goal.pk).update(title="Renamed")
    assert admin_client.post(f"{CHANGELIST}{goal.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not GoalEvent.objects.filter(goal_id=goal.pk).exists()


def test_after_an_admin_request_the_connection_writes_as_system_again(admin_client):
    goal = GoalFactory()
    admin_client.post(f"{CHANGELIST}{goal.pk}/change/", form(goal, title="By staff"))
    with connection.cursor() as cursor:
        cursor.execute("UPDATE goals SET title = 'By SQL' WHERE id = %s", [goal.pk])
    assert [actor for _, actor in actions_and_actors(goal)] == ["system", "staff", "system"]


def test_the_history_page_shows_every_writer_with_values_before_and_after(admin_client, alice):
    goal = GoalFactory(user=alice, title="Run a half marathon", target_date=None)
    client_for(alice).patch(
        f"/api/v1/goals/{goal.pk}",
        {"status": "paused", "target_date": "2027-06-15"},
        format="json",
    )
    goal.refresh_from_db()
    admin_client.post(f"{CHANGELIST}{goal.pk}/change/", form(goal, title="Run a marathon"))
    page = admin_client.get(f"{CHANGELIST}{goal.pk}/history/")
    assert page.status_code == 200
    html = page.content.decode()
    rows = [(event.action, event.actor) for event, _ in page.context["events"]]
    assert rows == [("updated", "staff"), ("updated", "user"), ("created", "system")]
    # Readable: labels and values, not the JSON kept in the database.
    assert '"from"' not in html
    assert page.context["events"][1][1] == [
        ("Target date", "—", "2027-06-15"),
        ("Status", "Active", "Paused"),
    ]
    assert page.context["events"][0][1] == [("Title", "Run a half marathon", "Run a marathon")]
    for text in ("Staff", "User", "System", "Run a half marathon", "Paused", "2027-06-15"):
        assert text in html
    assert "3 events" in html


def test_the_history_page_filters_by_actor_action_and_field(admin_client):
    goal = GoalFactory()
    Goal.objects.filter(pk=goal.pk).update(status="archived")
    goal.refresh_from_db()
    admin_client.post(f"{CHANGELIST}{goal.pk}/change/", form(goal, title="Renamed"))
    url = f"{CHANGELIST}{goal.pk}/history/"

    def shown(**params):
        return [(e.action, e.actor) for e, _ in admin_client.get(url, params).context["events"]]

    assert shown(actor="staff") == [("updated", "staff")]
    assert shown(action="archived") == [("archived", "system")]
    assert shown(field="title") == [("updated", "staff"), ("created", "system")]
    assert shown(actor="system", field="status") == [("archived", "system"), ("created", "system")]
    assert len(shown(actor="nobody", field="colour")) == 3  # unknown values are no filter
    assert "matches these filters" in admin_client.get(url, {"actor": "user"}).content.decode()


def test_the_history_page_pages_through_long_histories(admin_client):
    goal = GoalFactory()
    for number in range(105):
        Goal.objects.filter(pk=goal.pk).update(title=f"Title {number}")
    first = admin_client.get(f"{CHANGELIST}{goal.pk}/history/")
    assert len(first.context["events"]) == 100
    second = admin_client.get(f"{CHANGELIST}{goal.pk}/history/", {"p": 2})
    assert [e.action for e, _ in second.context["events"]][-1] == "created"
    assert len(second.context["events"]) == 6


def test_the_history_page_of_an_unknown_goal_goes_back_to_the_list(admin_client):
    response = admin_client.get(f"{CHANGELIST}00000000-0000-0000-0000-000000000000/history/")
    assert response.status_code == 302


def test_the_history_page_needs_a_goal_permission(client):
    staff = get_user_model().objects.create_user("no_goals", is_staff=True)
    client.force_login(staff)
    goal = GoalFactory()
    assert client.get(f"{CHANGELIST}{goal.pk}/history/").status_code == 403


def test_the_history_page_costs_the_same_however_long_the_history(
    admin_client, django_assert_max_num_queries
):
    goal = GoalFactory()
    with django_assert_max_num_queries(100) as few:
        admin_client.get(f"{CHANGELIST}{goal.pk}/history/")
    for number in range(30):
        Goal.objects.filter(pk=goal.pk).update(title=f"Title {number}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        admin_client.get(f"{CHANGELIST}{goal.pk}/history/")

"""A goal's past through the API (the contract's "A goal's past: history and insights"): every
write that changes a tracked field is one event, whoever makes it, read a page at a time."""

import datetime as dt
import uuid

import pytest
from django.db import connection

from goals.models import Goal
from tests.conftest import client_for
from tests.factories import GoalFactory, UserFactory

pytestmark = pytest.mark.django_db

GOALS = "/api/v1/goals"
ALL_HISTORY = f"{GOALS}/history"
STORY = {
    "title": "Graduate early from Georgia Tech",
    "description": "Complete my CS degree by May 2026 instead of December 2026",
    "goal_type": "concrete",
    "value_category": "growth",
    "target_date": "2026-05-15",
}


def history(api, goal_id, **params) -> dict:
    response = api.get(f"{GOALS}/{goal_id}/history", params)
    assert response.status_code == 200, response.content
    return response.json()


def execute(statement: str, params=()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def test_a_create_is_a_created_event_with_every_field_from_null(api):
    goal = api.post(GOALS, STORY, format="json").json()
    page = history(api, goal["id"])
    assert page["next_cursor"] is None
    (event,) = page["results"]
    assert set(event) == {"id", "goal_id", "occurred_at", "action", "changes", "actor"}
    assert uuid.UUID(event["id"])
    assert event["goal_id"] == goal["id"]
    assert (event["action"], event["actor"]) == ("created", "user")
    assert event["changes"] == {
        "title": {"from": None, "to": STORY["title"]},
        "description": {"from": None, "to": STORY["description"]},
        "goal_type": {"from": None, "to": "concrete"},
        "value_category": {"from": None, "to": "growth"},
        "target_date": {"from": None, "to": "2026-05-15"},
        "status": {"from": None, "to": "active"},
    }
    assert event["occurred_at"].endswith("Z")
    assert dt.datetime.fromisoformat(event["occurred_at"]) >= dt.datetime.fromisoformat(
        goal["created_at"]
    )


def test_a_patch_records_exactly_the_fields_it_changed(api, goal):
    api.patch(
        f"{GOALS}/{goal.id}",
        {"status": "paused", "title": goal.title, "target_date": "2027-01-31"},
        format="json",
    )
    newest = history(api, goal.id)["results"][0]
    assert (newest["action"], newest["actor"]) == ("updated", "user")
    assert newest["changes"] == {
        "status": {"from": "active", "to": "paused"},
        "target_date": {"from": None, "to": "2027-01-31"},
    }


def test_nulls_stay_null_and_dates_are_days(api, goal):
    api.patch(f"{GOALS}/{goal.id}", {"target_date": "2027-01-31"}, format="json")
    api.patch(f"{GOALS}/{goal.id}", {"target_date": None, "description": None}, format="json")
    newest = history(api, goal.id)["results"][0]
    assert newest["changes"] == {
        "target_date": {"from": "2027-01-31", "to": None},
        "description": {"from": goal.description, "to": None},
    }


@pytest.mark.parametrize(
    "body", [{}, {"title": "Run a half marathon"}, {"status": "active", "goal_type": "concrete"}]
)
def test_a_patch_that_changes_nothing_records_nothing(api, goal, body):
    before = history(api, goal.id)["results"]
    assert api.patch(f"{GOALS}/{goal.id}", body, format="json").status_code == 200
    assert history(api, goal.id)["results"] == before


def test_archive_and_restore_are_their_own_actions(api, goal):
    assert api.delete(f"{GOALS}/{goal.id}").status_code == 200
    api.delete(f"{GOALS}/{goal.id}")  # archiving again changes nothing: no event
    api.patch(f"{GOALS}/{goal.id}", {"status": "completed"}, format="json")
    api.patch(f"{GOALS}/{goal.id}", {"status": "archived", "title": "Given up"}, format="json")
    events = history(api, goal.id)["results"]
    assert [event["action"] for event in events] == ["archived", "restored", "archived", "created"]
    assert events[0]["changes"] == {
        "status": {"from": "completed", "to": "archived"},
        "title": {"from": "Run a half marathon", "to": "Given up"},
    }
    assert events[1]["changes"] == {"status": {"from": "archived", "to": "completed"}}


def test_a_raw_sql_update_is_recorded_as_system(api, goal):
    execute("UPDATE goals SET status = 'completed' WHERE id = %s", [goal.id])
    newest = history(api, goal.id)["results"][0]
    assert (newest["action"], newest["actor"]) == ("updated", "system")
    assert newest["changes"] == {"status": {"from": "active", "to": "completed"}}


def test_a_queryset_update_is_recorded_as_system(api, goal):
    Goal.objects.filter(pk=goal.pk).update(value_category="craft")
    newest = history(api, goal.id)["results"][0]
    assert newest["actor"] == "system"
    assert newest["changes"] == {"value_category": {"from": "health", "to": "craft"}}


def test_a_raw_sql_update_setting_the_same_values_records_nothing(api, goal):
    before = history(api, goal.id)["results"]
    execute(
        "UPDATE goals SET title = title, status = status, target_date = target_date, "
        "description = description WHERE id = %s",
        [goal.id],
    )
    assert history(api, goal.id)["results"] == before


def test_a_title_cannot_claim_another_actor(api, goal):
    """The marker is read only at the start of the statement's text, where no value is."""
    sneaky = "/* delight.actor=staff */ sneaky"
    api.patch(f"{GOALS}/{goal.id}", {"title": sneaky}, format="json")
    assert history(api, goal.id)["results"][0]["actor"] == "user"
    execute("UPDATE goals SET description = %s WHERE id = %s", [sneaky, goal.id])
    assert history(api, goal.id)["results"][0]["actor"] == "system"


def test_newest_first_and_the_cursor_pages_without_repeats(api, goal):
    for number in range(6):
        api.patch(f"{GOALS}/{goal.id}", {"title": f"Title {number}"}, format="json")
    seen, cursor = [], None
    while True:
        page = history(api, goal.id, page_size=3, **({"cursor": cursor} if cursor else {}))
        seen += page["results"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 7
    assert len({event["id"] for event in seen}) == 7
    assert [event["changes"]["title"]["to"] for event in seen[:6]] == [
        f"Title {number}" for number in reversed(range(6))
    ]
    assert seen[-1]["action"] == "created"
    stamps = [event["occurred_at"] for event in seen]
    assert stamps == sorted(stamps, reverse=True)


def test_ties_in_time_are_broken_by_id(api, alice):
    """Events of one instant (written by hand here) come in a stable order: by id, descending."""
    goal = GoalFactory(user=alice)
    at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    ids = sorted(uuid.uuid4() for _ in range(5))
    for event_id in ids:
        execute(
            "INSERT INTO goal_events (id, goal_id, user_id, occurred_at, action, actor, changes) "
            "VALUES (%s, %s, %s, %s, 'updated', 'system', '{}')",
            [event_id, goal.id, alice.pk, at],
        )
    first = history(api, goal.id, page_size=2)
    second = history(api, goal.id, page_size=2, cursor=first["next_cursor"])
    third = history(api, goal.id, page_size=2, cursor=second["next_cursor"])
    listed = [e["id"] for page in (first, second, third) for e in page["results"]]
    assert listed[1:] == [str(event_id) for event_id in reversed(ids)]  # after the created one


def test_another_users_goal_has_no_history_here(api, bob_api, goal):
    for client, expected in ((bob_api, 404), (api, 200)):
        response = client.get(f"{GOALS}/{goal.id}/history")
        assert response.status_code == expected
    assert bob_api.get(f"{GOALS}/{goal.id}/history").json() == {"detail": "Not found."}
    assert api.get(f"{GOALS}/{uuid.uuid4()}/history").status_code == 404
    assert api.get(f"{GOALS}/not-a-uuid/history").status_code == 404
    # A cursor changes nothing: still 404, never an empty page.
    cursor = history(api, goal.id, page_size=1)
    assert cursor["next_cursor"] is None  # one event so far
    own = api.post(GOALS, STORY, format="json").json()
    api.patch(f"{GOALS}/{own['id']}", {"title": "Again"}, format="json")
    token = history(api, own["id"], page_size=1)["next_cursor"]
    assert bob_api.get(f"{GOALS}/{goal.id}/history", {"cursor": token}).status_code == 404


def test_a_page_past_the_last_event_is_empty(api, goal):
    GoalFactory(user=goal.user)
    (created,) = history(api, goal.id)["results"]
    from goals.history import encode_cursor

    past = encode_cursor(dt.datetime.fromisoformat(created["occurred_at"]), uuid.UUID(int=0))
    assert history(api, goal.id, cursor=past) == {"results": [], "next_cursor": None}


def test_the_trailing_slash_is_optional(api, goal):
    assert api.get(f"{GOALS}/{goal.id}/history/").status_code == 200
    assert api.get(f"{ALL_HISTORY}/").status_code == 200
    assert api.get(f"{GOALS}/insights/").status_code == 200


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"page_size": 0}, {"page_size"}),
        ({"page_size": 101}, {"page_size"}),
        ({"page_size": "ten"}, {"page_size"}),
        ({"cursor": "not a cursor"}, {"cursor"}),
        ({"cursor": "x" * 201}, {"cursor"}),
        ({"cursor": "a\x00b", "page_size": -1}, {"cursor", "page_size"}),
    ],
)
def test_bad_page_parameters_are_422_naming_each(api, goal, params, named):
    for path in (f"{GOALS}/{goal.id}/history", ALL_HISTORY):
        response = api.get(path, params)
        assert response.status_code == 422, response.content
        assert set(response.json()["errors"]) == named


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"occurred_after": "2026-01-01T00:00:00"}, {"occurred_after"}),
        ({"occurred_before": "yesterday"}, {"occurred_before"}),
        ({"goal_type": "vague", "value_category": "wealth"}, {"goal_type", "value_category"}),
        (
            {"occurred_after": "2026-02-01T00:00:00Z", "occurred_before": "2026-01-01T00:00:00Z"},
            {"occurred_after"},
        ),
        (
            {"occurred_after": "2026-02-30T00:00:00Z", "page_size": 0},
            {"occurred_after", "page_size"},
        ),
    ],
)
def test_bad_filters_of_all_history_are_422_naming_each(api, params, named):
    response = api.get(ALL_HISTORY, params)
    assert response.status_code == 422, response.content
    assert set(response.json()["errors"]) == named


def test_empty_values_are_absent_and_unknown_parameters_ignored(api, goal):
    """As on the goal list: an empty filter is no filter, an empty page size the default, an
    empty cursor (it names no position) a 422. Found by a client author: an empty page size was
    a 422 here and the default on the list, and the OpenAPI document's "(not set)" examples,
    which Swagger UI sends, were refused."""
    empty = {"goal_type": "", "value_category": "", "occurred_after": "", "occurred_before": ""}
    response = api.get(ALL_HISTORY, {**empty, "page_size": "", "x": "y"})
    assert response.status_code == 200
    assert len(response.json()["results"]) == 1
    assert api.get(f"{GOALS}/{goal.id}/history", {"page_size": ""}).status_code == 200
    assert set(api.get(ALL_HISTORY, {"cursor": ""}).json()["errors"]) == {"cursor"}
    insights = api.get(f"{GOALS}/insights", {"tz": ""})
    assert insights.status_code == 200
    assert insights.json() == api.get(f"{GOALS}/insights", {"tz": "UTC"}).json()


@pytest.mark.parametrize("zone", ["localtime", "posixrules", "utc", "Europe/Nowhere"])
def test_a_name_that_is_no_iana_zone_is_422(api, zone):
    response = api.get(f"{GOALS}/insights", {"tz": zone})
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"tz"}


def test_all_history_holds_every_goal_of_mine_and_none_of_others(api, alice, bob):
    mine = [GoalFactory(user=alice), GoalFactory(user=alice)]
    GoalFactory(user=bob)
    Goal.objects.filter(pk=mine[0].pk).update(status="archived")
    events = api.get(ALL_HISTORY).json()["results"]
    assert [(e["goal_id"], e["action"]) for e in events] == [
        (str(mine[0].id), "archived"),
        (str(mine[1].id), "created"),
        (str(mine[0].id), "created"),
    ]


def test_all_history_filters_by_time_inclusively_and_by_the_goals_current_kind(api, alice):
    health = GoalFactory(user=alice, value_category="health", goal_type="abstract")
    craft = GoalFactory(user=alice, value_category="craft", goal_type="concrete")
    Goal.objects.filter(pk=health.pk).update(title="Renamed")
    events = api.get(ALL_HISTORY).json()["results"]
    stamps = [e["occurred_at"] for e in events]  # newest first: renamed, craft, health
    middle = api.get(ALL_HISTORY, {"occurred_after": stamps[1], "occurred_before": stamps[1]})
    assert [e["goal_id"] for e in middle.json()["results"]] == [str(craft.id)]
    since = api.get(ALL_HISTORY, {"occurred_after": stamps[1]}).json()["results"]
    assert [e["occurred_at"] for e in since] == stamps[:2]
    until = api.get(ALL_HISTORY, {"occurred_before": stamps[1]}).json()["results"]
    assert [e["occurred_at"] for e in until] == stamps[1:]
    by_category = api.get(ALL_HISTORY, {"value_category": "health"}).json()["results"]
    assert [e["action"] for e in by_category] == ["updated", "created"]
    # By the goal's current kind: a goal moved to craft brings its past along.
    Goal.objects.filter(pk=health.pk).update(value_category="craft")
    by_type = api.get(ALL_HISTORY, {"goal_type": "abstract", "value_category": "craft"}).json()
    assert [e["goal_id"] for e in by_type["results"]] == [str(health.id)] * 3
    # An offset of a zone, sent encoded, as the goal list takes it.
    offset = dt.datetime.fromisoformat(stamps[1]).astimezone(dt.timezone(dt.timedelta(hours=2)))
    response = api.get(ALL_HISTORY, {"occurred_before": offset.isoformat()})
    assert [e["occurred_at"] for e in response.json()["results"]] == stamps[1:]


def test_all_history_pages_by_cursor(api, alice):
    for _ in range(5):
        GoalFactory(user=alice)
    first = api.get(ALL_HISTORY, {"page_size": 2}).json()
    rest, cursor = [], first["next_cursor"]
    while cursor:
        page = api.get(ALL_HISTORY, {"page_size": 2, "cursor": cursor}).json()
        rest += page["results"]
        cursor = page["next_cursor"]
    ids = [e["id"] for e in first["results"] + rest]
    assert len(ids) == len(set(ids)) == 5


def test_the_owner_of_a_moved_goal_takes_its_history(api, bob_api, goal, bob):
    """Plain SQL may give a goal to someone else: its events follow, never left to the first."""
    execute("UPDATE goals SET user_id = %s WHERE id = %s", [bob.pk, goal.id])
    assert api.get(ALL_HISTORY).json()["results"] == []
    assert api.get(f"{GOALS}/{goal.id}/history").status_code == 404
    assert [e["goal_id"] for e in bob_api.get(ALL_HISTORY).json()["results"]] == [str(goal.id)]


def test_history_needs_credentials(api_client, goal):
    for path in (f"{GOALS}/{goal.id}/history", ALL_HISTORY, f"{GOALS}/insights"):
        response = api_client.get(path)
        assert response.status_code == 401
        assert response["WWW-Authenticate"].startswith("Bearer")


def test_history_routes_answer_get_only(api, goal):
    for path in (f"{GOALS}/{goal.id}/history", ALL_HISTORY, f"{GOALS}/insights"):
        response = api.post(path, {}, format="json")
        assert response.status_code == 405
        assert "GET" in response["Allow"]


def test_a_goal_erased_for_good_takes_its_history_along(alice):
    goal = GoalFactory(user=alice)
    Goal.objects.filter(pk=goal.pk).update(title="Renamed")
    goal.delete()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM goal_events WHERE goal_id = %s", [goal.id])
        assert cursor.fetchone() == (0,)


def test_a_new_users_history_is_empty_not_an_error():
    client = client_for(UserFactory(clerk_user_id="user_nothing_yet"))
    assert client.get(ALL_HISTORY).json() == {"results": [], "next_cursor": None}


@pytest.fixture
def warm_api(api):
    """Alice's client after one request: her account is known to this process."""
    assert api.get(f"{GOALS}/00000000-0000-0000-0000-000000000000").status_code == 404
    return api


@pytest.mark.parametrize("events", [1, 30, 120])
def test_a_page_of_a_goals_history_is_one_query(warm_api, goal, events, django_assert_num_queries):
    for number in range(events - 1):
        Goal.objects.filter(pk=goal.pk).update(title=f"Title {number}")
    with django_assert_num_queries(1):
        first = history(warm_api, goal.id, page_size=100)
    if first["next_cursor"]:
        with django_assert_num_queries(1):
            history(warm_api, goal.id, page_size=100, cursor=first["next_cursor"])
    with django_assert_num_queries(1):
        assert warm_api.get(f"{GOALS}/{uuid.uuid4()}/history").status_code == 404


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"page_size": 5},
        {"goal_type": "concrete", "value_category": "growth"},
        {"occurred_after": "2020-01-01T00:00:00Z", "occurred_before": "2999-01-01T00:00:00Z"},
    ],
)
def test_a_page_of_all_history_is_one_query(warm_api, alice, params, django_assert_num_queries):
    for _ in range(30):
        GoalFactory(user=alice)
    params = {"page_size": 10, **params}
    with django_assert_num_queries(1):
        page = warm_api.get(ALL_HISTORY, params).json()
    with django_assert_num_queries(1):
        assert warm_api.get(ALL_HISTORY, {**params, "cursor": page["next_cursor"]}).json()[
            "results"
        ]


def test_bad_parameters_cost_no_query(warm_api, goal, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert warm_api.get(ALL_HISTORY, {"page_size": 0}).status_code == 422
        assert warm_api.get(f"{GOALS}/{goal.id}/history", {"cursor": "?"}).status_code == 422
        assert warm_api.get(f"{GOALS}/insights", {"tz": "Nowhere"}).status_code == 422

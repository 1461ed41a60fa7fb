"""The goals REST API, row by row of the contract (shared/API-CONTRACT.md) and the story's AC2-AC8."""

import datetime as dt
import uuid

import pytest
from django.utils.dateparse import parse_datetime

from goals.models import Goal, GoalStatus
from tests.factories import GoalFactory

pytestmark = pytest.mark.django_db

GOALS = "/api/v1/goals"
STORY_GOAL = {
    "title": "Graduate early from Georgia Tech",
    "description": "Complete my CS degree by May 2026 instead of December 2026",
    "goal_type": "concrete",
    "value_category": "growth",
    "target_date": "2026-05-15",
}
FIELDS = {
    "id",
    "user_id",
    "title",
    "description",
    "goal_type",
    "value_category",
    "target_date",
    "status",
    "created_at",
    "updated_at",
}


def detail(goal) -> str:
    return f"{GOALS}/{goal.id if hasattr(goal, 'id') else goal}"


def assert_422(response, *fields):
    assert response.status_code == 422, response.content
    body = response.json()
    assert set(body) == {"detail", "errors"}
    assert set(body["errors"]) == set(fields), body
    for messages in body["errors"].values():
        assert messages
        assert all(isinstance(message, str) and message for message in messages)
    return body["errors"]


# --- Create (AC2) ------------------------------------------------------------------------------


def test_create_goal_success(api, alice):
    response = api.post(GOALS, STORY_GOAL, format="json")
    assert response.status_code == 201
    body = response.json()
    assert set(body) == FIELDS
    assert body["user_id"] == "user_alice"
    assert {key: body[key] for key in STORY_GOAL} == STORY_GOAL
    assert body["status"] == "active"
    assert body["created_at"] == body["updated_at"]
    assert body["created_at"].endswith("Z")
    created = parse_datetime(body["created_at"])
    assert abs(created - dt.datetime.now(dt.UTC)) < dt.timedelta(seconds=30)
    assert response["Location"] == f"{GOALS}/{body['id']}"
    assert response["Content-Type"] == "application/json"
    goal = Goal.objects.get(pk=body["id"])
    assert goal.user == alice


def test_create_with_trailing_slash_is_the_same_route(api):
    response = api.post(f"{GOALS}/", STORY_GOAL, format="json")
    assert response.status_code == 201
    assert response["Location"] == f"{GOALS}/{response.json()['id']}"


def test_create_minimal_goal_has_nulls_for_absent_fields(api):
    response = api.post(
        GOALS,
        {"title": "Be healthier", "goal_type": "abstract", "value_category": "health"},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert body["description"] is None
    assert body["target_date"] is None


def test_create_trims_the_title(api):
    response = api.post(GOALS, {**STORY_GOAL, "title": "  Learn piano \n"}, format="json")
    assert response.status_code == 201
    assert response.json()["title"] == "Learn piano"


def test_create_with_status(api):
    response = api.post(GOALS, {**STORY_GOAL, "status": "paused"}, format="json")
    assert response.json()["status"] == "paused"


def test_create_allows_past_target_dates(api):
    response = api.post(GOALS, {**STORY_GOAL, "target_date": "2001-01-01"}, format="json")
    assert response.status_code == 201


@pytest.mark.parametrize("length", [1, 200])
def test_title_length_bounds_are_accepted(api, length):
    assert api.post(GOALS, {**STORY_GOAL, "title": "t" * length}, format="json").status_code == 201


def test_description_of_2000_characters_is_accepted(api):
    response = api.post(GOALS, {**STORY_GOAL, "description": "d" * 2000}, format="json")
    assert response.status_code == 201


# --- Validation (AC7) --------------------------------------------------------------------------


def test_create_goal_missing_fields(api):
    response = api.post(GOALS, {"description": "No title provided"}, format="json")
    errors = assert_422(response, "title", "goal_type", "value_category")
    assert errors["title"] == ["This field is required."]


def test_create_goal_invalid_goal_type(api):
    response = api.post(
        GOALS, {"title": "Test", "goal_type": "invalid", "value_category": "health"}, format="json"
    )
    errors = assert_422(response, "goal_type")
    assert errors["goal_type"] == ['"invalid" is not valid; use one of: abstract, concrete.']


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", ""),
        ("title", "   "),
        ("title", "t" * 201),
        ("title", None),
        ("title", 42),
        ("title", 1e300),
        ("title", True),
        ("title", ["a"]),
        ("title", {"a": 1}),
        ("title", "nul\x00byte"),
        ("description", "d" * 2001),
        ("description", 7),
        ("description", "nul\x00"),
        ("goal_type", "Concrete"),
        ("goal_type", None),
        ("goal_type", ["concrete"]),
        ("value_category", "wealth"),
        ("value_category", 1),
        ("status", "deleted"),
        ("status", None),
        ("target_date", "2026-5-15"),
        ("target_date", "15/05/2026"),
        ("target_date", "2026-02-30"),
        ("target_date", "0000-01-01"),
        ("target_date", "10000-01-01"),
        ("target_date", "2026-05-15T00:00:00Z"),
        ("target_date", 20260515),
        ("target_date", ""),
    ],
)
def test_invalid_values_are_422_naming_the_field(api, field, value):
    assert_422(api.post(GOALS, {**STORY_GOAL, field: value}, format="json"), field)
    assert not Goal.objects.exists()


def test_lone_surrogates_are_422(api):
    body = (
        b'{"title": "lone \\ud800 surrogate", "goal_type": "concrete", "value_category": "craft"}'
    )
    assert_422(api.post(GOALS, body, content_type="application/json"), "title")


@pytest.mark.parametrize("field", ["id", "user_id", "created_at", "updated_at"])
def test_read_only_fields_are_refused_on_create(api, field):
    errors = assert_422(api.post(GOALS, {**STORY_GOAL, field: "x"}, format="json"), field)
    assert errors[field] == ["This field is read-only."]


def test_unknown_keys_are_refused(api):
    errors = assert_422(api.post(GOALS, {**STORY_GOAL, "titel": "typo"}, format="json"), "titel")
    assert errors["titel"] == ["Unknown field."]


def test_errors_of_several_kinds_are_reported_together(api):
    response = api.post(GOALS, {"user_id": "user_bob", "goal_type": "x"}, format="json")
    assert_422(response, "user_id", "goal_type", "title", "value_category")


@pytest.mark.parametrize("body", ["[]", '"a goal"', "42", "null", "[{}]"])
def test_a_body_that_is_not_an_object_is_422(api, body):
    response = api.post(GOALS, body, content_type="application/json")
    assert_422(response, "non_field_errors")


@pytest.mark.parametrize(
    "body",
    [b"{", b"{'title': 1}", b'{"title": NaN}', b'{"title": Infinity}', b"\xff\xfe", b"[" * 30_000],
)
def test_unparseable_json_is_400(api, body):
    response = api.post(GOALS, body, content_type="application/json")
    assert response.status_code == 400
    assert set(response.json()) == {"detail"}


@pytest.mark.parametrize("number", [b"9" * 4301, b"-" + b"9" * 5000])
def test_huge_numbers_are_400_or_422(api, number):
    response = api.post(GOALS, b'{"title": ' + number + b"}", content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"detail": "JSON parse error: a number has more than 4300 digits"}


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/xml", "application/x-www-form-urlencoded", "*/*", "application/*"],
)
def test_unsupported_content_type_is_415(api, content_type):
    body = b'{"title": "x", "goal_type": "concrete", "value_category": "craft"}'
    response = api.post(GOALS, body, content_type=content_type)
    assert response.status_code == 415
    assert set(response.json()) == {"detail"}


@pytest.mark.parametrize("charset", ["utf-7", "utf-16", "no-such-codec"])
def test_json_in_another_charset_is_415(api, charset):
    response = api.post(GOALS, b"{}", content_type=f"application/json; charset={charset}")
    assert response.status_code == 415


def test_json_with_utf8_charset_is_fine(api):
    response = api.post(
        GOALS,
        '{"title": "Café", "goal_type": "abstract", "value_category": "craft"}'.encode(),
        content_type="application/json; charset=UTF-8",
    )
    assert response.status_code == 201
    assert response.json()["title"] == "Café"


def test_body_over_64_kib_is_413(api):
    response = api.post(GOALS, {**STORY_GOAL, "description": "d" * (64 * 1024)}, format="json")
    assert response.status_code == 413
    assert set(response.json()) == {"detail"}


# --- Read (AC3, AC4) ---------------------------------------------------------------------------


def test_get_goal(api, goal):
    response = api.get(detail(goal))
    assert response.status_code == 200
    body = response.json()
    assert set(body) == FIELDS
    assert body["id"] == str(goal.id)
    assert body["title"] == "Run a half marathon"
    assert body["user_id"] == "user_alice"


def test_get_goal_with_trailing_slash(api, goal):
    assert api.get(f"{detail(goal)}/").json()["id"] == str(goal.id)


def test_get_archived_goal_by_id(api, goal):
    Goal.objects.filter(pk=goal.pk).update(status=GoalStatus.ARCHIVED)
    assert api.get(detail(goal)).json()["status"] == "archived"


def test_get_goal_not_found(api):
    response = api.get(detail(uuid.uuid4()))
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


@pytest.mark.parametrize(
    "bad_id",
    [
        "not-a-uuid",
        "123",
        "550e8400-e29b-41d4-a716-44665544000Z",
        "%00",
        "550e8400e29b41d4a716446655440000x",
    ],
)
def test_malformed_id_is_404(api, bad_id):
    response = api.get(f"{GOALS}/{bad_id}")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_uppercase_uuid_finds_the_goal(api, goal):
    assert api.get(f"{GOALS}/{str(goal.id).upper()}").status_code == 200


def test_unknown_route_is_json_404(api):
    response = api.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


# --- Update (AC5) ------------------------------------------------------------------------------


def test_update_goal(api, goal):
    response = api.patch(
        detail(goal),
        {"status": "paused", "description": "Pausing temporarily due to internship commitments"},
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "paused"
    assert body["description"] == "Pausing temporarily due to internship commitments"
    goal.refresh_from_db()
    assert goal.status == "paused"


def test_update_goal_partial_leaves_other_fields_alone(api, goal):
    before = api.get(detail(goal)).json()
    body = api.patch(detail(goal), {"title": "  Run a full marathon "}, format="json").json()
    assert body["title"] == "Run a full marathon"
    unchanged = {key for key in FIELDS if key not in {"title", "updated_at"}}
    assert {key: body[key] for key in unchanged} == {key: before[key] for key in unchanged}


def test_update_refreshes_updated_at_and_keeps_created_at(api, goal):
    body = api.patch(detail(goal), {"goal_type": "abstract"}, format="json").json()
    assert parse_datetime(body["updated_at"]) > goal.updated_at
    assert parse_datetime(body["created_at"]) == goal.created_at
    goal.refresh_from_db()
    assert body["updated_at"] == api.get(detail(goal)).json()["updated_at"]


def test_update_can_clear_nullable_fields(api):
    goal = api.post(GOALS, STORY_GOAL, format="json").json()
    body = api.patch(
        f"{GOALS}/{goal['id']}", {"description": None, "target_date": None}, format="json"
    ).json()
    assert body["description"] is None
    assert body["target_date"] is None


def test_empty_patch_changes_nothing(api, goal):
    response = api.patch(detail(goal), {}, format="json")
    assert response.status_code == 200
    assert parse_datetime(response.json()["updated_at"]) == goal.updated_at


@pytest.mark.parametrize("field", ["id", "user_id", "created_at", "updated_at"])
def test_read_only_fields_are_refused_on_update(api, goal, field):
    value = str(uuid.uuid4()) if field.endswith("id") else "2020-01-01T00:00:00Z"
    errors = assert_422(api.patch(detail(goal), {field: value}, format="json"), field)
    assert errors[field] == ["This field is read-only."]
    goal_after = Goal.objects.get(pk=goal.pk)
    assert (goal_after.user_id, goal_after.created_at, goal_after.updated_at) == (
        goal.user_id,
        goal.created_at,
        goal.updated_at,
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", ""),
        ("title", None),
        ("goal_type", "x"),
        ("status", "gone"),
        ("target_date", "tomorrow"),
    ],
)
def test_invalid_update_is_422_and_changes_nothing(api, goal, field, value):
    assert_422(api.patch(detail(goal), {field: value}, format="json"), field)
    goal_after = Goal.objects.get(pk=goal.pk)
    assert goal_after.updated_at == goal.updated_at
    assert getattr(goal_after, field) == getattr(goal, field)


def test_put_is_405_with_allow(api, goal):
    response = api.put(detail(goal), STORY_GOAL, format="json")
    assert response.status_code == 405
    assert "PUT" not in response["Allow"]
    assert {"GET", "PATCH", "DELETE"} <= {method.strip() for method in response["Allow"].split(",")}
    assert set(response.json()) == {"detail"}


def test_delete_on_the_list_is_405(api):
    response = api.delete(GOALS)
    assert response.status_code == 405
    assert "POST" in response["Allow"]


# --- Archive (AC6) -----------------------------------------------------------------------------


def test_archive_goal(api, goal):
    response = api.delete(detail(goal))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "archived"
    assert parse_datetime(body["updated_at"]) > goal.updated_at
    goal.refresh_from_db()
    assert goal.status == GoalStatus.ARCHIVED  # the row is kept
    assert api.get(GOALS).json()["total"] == 0
    assert [g["id"] for g in api.get(GOALS, {"status": "archived"}).json()["goals"]] == [
        str(goal.id)
    ]


def test_archive_is_idempotent(api, goal):
    first = api.delete(detail(goal)).json()
    second = api.delete(detail(goal))
    assert second.status_code == 200
    assert second.json() == first


def test_restore_from_archived(api, goal):
    api.delete(detail(goal))
    body = api.patch(detail(goal), {"status": "active"}, format="json").json()
    assert body["status"] == "active"
    assert api.get(GOALS).json()["total"] == 1


# --- The list (AC3) ----------------------------------------------------------------------------


def make_goals(user, count, **fields):
    return [GoalFactory(user=user, **fields) for _ in range(count)]


def ids(response) -> list[str]:
    return [goal["id"] for goal in response.json()["goals"]]


def test_list_goals_only_mine(api, alice, bob):
    mine = make_goals(alice, 2)
    make_goals(bob, 3)
    response = api.get(GOALS)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"goals", "total", "page", "page_size", "next", "previous", "next_cursor"}
    assert body["total"] == 2
    assert set(ids(response)) == {str(goal.id) for goal in mine}
    assert all(set(goal) == FIELDS for goal in body["goals"])


def test_list_is_newest_first(api, alice):
    goals = make_goals(alice, 3)
    assert ids(api.get(GOALS)) == [str(goal.id) for goal in reversed(goals)]


def test_list_order_with_equal_created_at_is_stable_by_id(api, alice):
    goals = make_goals(alice, 7)
    Goal.objects.filter(user=alice).update(created_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
    expected = sorted((str(goal.id) for goal in goals), key=uuid.UUID, reverse=True)
    pages = [ids(api.get(GOALS, {"page": page, "page_size": 3})) for page in (1, 2, 3)]
    assert [goal for page in pages for goal in page] == expected


@pytest.mark.parametrize("status", ["active", "paused", "completed", "archived"])
def test_list_filter_by_status(api, alice, status):
    wanted = make_goals(alice, 2, status=status)
    for other in {"active", "paused", "completed", "archived"} - {status}:
        make_goals(alice, 1, status=other)
    response = api.get(GOALS, {"status": status})
    assert set(ids(response)) == {str(goal.id) for goal in wanted}
    assert response.json()["total"] == 2


def test_list_without_status_leaves_archived_out(api, alice):
    make_goals(alice, 1, status="archived")
    shown = (
        make_goals(alice, 1, status="active")
        + make_goals(alice, 1, status="paused")
        + make_goals(alice, 1, status="completed")
    )
    assert set(ids(api.get(GOALS))) == {str(goal.id) for goal in shown}
    assert set(ids(api.get(GOALS, {"status": ""}))) == {str(goal.id) for goal in shown}


def test_list_filter_by_goal_type_and_value_category(api, alice):
    target = GoalFactory(user=alice, goal_type="abstract", value_category="connection")
    GoalFactory(user=alice, goal_type="abstract", value_category="health")
    GoalFactory(user=alice, goal_type="concrete", value_category="connection")
    response = api.get(GOALS, {"goal_type": "abstract", "value_category": "connection"})
    assert ids(response) == [str(target.id)]
    assert len(ids(api.get(GOALS, {"goal_type": "concrete"}))) == 1
    assert len(ids(api.get(GOALS, {"value_category": "health"}))) == 1


@pytest.mark.parametrize("key", ["created_at", "updated_at", "title", "target_date"])
def test_list_ordering(api, alice, key):
    titles = ["b", "c", "a", "d"]
    dates = [dt.date(2027, 1, 2), None, dt.date(2026, 1, 1), dt.date(2028, 3, 3)]
    goals = [
        GoalFactory(user=alice, title=t, target_date=d) for t, d in zip(titles, dates, strict=True)
    ]
    # Touch one goal so updated_at differs from the creation order.
    Goal.objects.filter(pk=goals[0].pk).update(description="touched")
    values = {str(g.id): getattr(Goal.objects.get(pk=g.pk), key) for g in goals}

    ascending = ids(api.get(GOALS, {"ordering": key}))
    descending = ids(api.get(GOALS, {"ordering": f"-{key}"}))
    present = [gid for gid in values if values[gid] is not None]
    assert [gid for gid in ascending if values[gid] is not None] == sorted(present, key=values.get)
    assert [gid for gid in descending if values[gid] is not None] == sorted(
        present, key=values.get, reverse=True
    )
    if key == "target_date":  # goals without a date come last either way
        assert values[ascending[-1]] is None
        assert values[descending[-1]] is None


def test_list_ordering_by_several_keys(api, alice):
    a1 = GoalFactory(user=alice, title="a")
    a2 = GoalFactory(user=alice, title="a")
    b = GoalFactory(user=alice, title="b")
    assert ids(api.get(GOALS, {"ordering": "title,-created_at"})) == [
        str(a2.id),
        str(a1.id),
        str(b.id),
    ]


def test_list_pagination(api, alice):
    goals = list(reversed(make_goals(alice, 5)))
    first = api.get(GOALS, {"page_size": 2}).json()
    assert first["total"] == 5
    assert (first["page"], first["page_size"]) == (1, 2)
    assert [g["id"] for g in first["goals"]] == [str(g.id) for g in goals[:2]]
    assert first["previous"] is None
    assert first["next"].startswith("http://testserver/api/v1/goals?")
    assert "page=2" in first["next"]
    assert "page_size=2" in first["next"]

    last = api.get(GOALS, {"page_size": 2, "page": 3}).json()
    assert [g["id"] for g in last["goals"]] == [str(goals[4].id)]
    assert last["next"] is None
    assert "page=2" in last["previous"]

    second = api.get(GOALS, {"page_size": 2, "page": 2}).json()
    assert "page=" not in second["previous"]


def test_default_page_size_is_50(api, alice):
    make_goals(alice, 51)
    body = api.get(GOALS).json()
    assert len(body["goals"]) == 50
    assert body["page_size"] == 50
    assert body["total"] == 51


def test_page_size_100_is_the_maximum(api, alice):
    make_goals(alice, 3)
    assert api.get(GOALS, {"page_size": 100}).status_code == 200
    assert_422(api.get(GOALS, {"page_size": 101}), "page_size")


@pytest.mark.parametrize("page", ["4", "1000", "99999999999999999999999999"])
def test_page_past_the_end_is_empty_with_the_true_total(api, alice, page):
    make_goals(alice, 3)
    response = api.get(GOALS, {"page": page, "page_size": 1})
    assert response.status_code == 200
    body = response.json()
    assert body["goals"] == []
    assert body["total"] == 3
    assert body["next"] is None


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "deleted"}, "status"),
        ({"status": "ACTIVE"}, "status"),
        ({"goal_type": "vague"}, "goal_type"),
        ({"value_category": "wealth"}, "value_category"),
        ({"ordering": "owner"}, "ordering"),
        ({"ordering": "-id"}, "ordering"),
        ({"ordering": "title,nope"}, "ordering"),
        ({"ordering": ","}, "ordering"),  # found by schemathesis: a 500 once
        ({"ordering": "title,"}, "ordering"),
        ({"ordering": ",-created_at"}, "ordering"),
        ({"page": "0"}, "page"),
        ({"page": "-1"}, "page"),
        ({"page": "one"}, "page"),
        ({"page": "1.5"}, "page"),
        ({"page": "9" * 5000}, "page"),
        ({"page_size": "0"}, "page_size"),
        ({"page_size": "many"}, "page_size"),
        ({"status": "active\x00"}, "status"),
        ({"page": "\x00"}, "page"),
    ],
)
def test_invalid_list_parameters_are_422_naming_them(api, goal, params, field):
    assert_422(api.get(GOALS, params), field)


def test_unknown_query_parameters_are_ignored(api, goal):
    assert ids(api.get(GOALS, {"colour": "blue", "user_id": "user_bob"})) == [str(goal.id)]


# --- Authorization (AC8) -----------------------------------------------------------------------


def test_unauthorized_access(api_client, goal):
    for method, path in [
        ("get", GOALS),
        ("post", GOALS),
        ("get", detail(goal)),
        ("patch", detail(goal)),
        ("delete", detail(goal)),
    ]:
        response = getattr(api_client, method)(path, {}, format="json")
        assert response.status_code == 401, (method, path)
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert set(response.json()) == {"detail"}


def test_invalid_token_is_401(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer invalid_token")
    assert api_client.get(GOALS).status_code == 401


def snapshot(goal) -> tuple:
    return tuple(Goal.objects.filter(pk=goal.pk).values_list()[0])


def test_other_users_goal_is_404_on_every_verb(bob_api, goal):
    before = snapshot(goal)
    for method, body in [("get", None), ("patch", {"title": "Mine now"}), ("delete", None)]:
        response = getattr(bob_api, method)(detail(goal), body, format="json")
        assert response.status_code == 404, method
        assert response.json() == {"detail": "Not found."}
    assert bob_api.get(GOALS).json()["total"] == 0
    assert bob_api.get(GOALS, {"status": "active"}).json()["goals"] == []
    assert snapshot(goal) == before


def test_user_id_in_query_or_body_cannot_reach_another_user(bob_api, goal):
    assert bob_api.get(GOALS, {"user_id": "user_alice"}).json()["total"] == 0
    response = bob_api.post(GOALS, {**STORY_GOAL, "user_id": "user_alice"}, format="json")
    assert response.status_code == 422
    assert Goal.objects.filter(user=goal.user).count() == 1


# --- Staff in the browsable API ----------------------------------------------------------------


def test_staff_session_sees_own_goals_in_the_browsable_api(admin_client, admin_user, goal):
    own = GoalFactory(user=admin_user, title="Staff goal")
    response = admin_client.get(GOALS, HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "Staff goal" in page
    assert goal.title not in page
    # The form for creating a goal: JSON only (the API takes no form-encoded bodies), prefilled with
    # every writable field.
    assert 'name="_content"' in page
    assert "&quot;title&quot;: &quot;&quot;" in page
    body = admin_client.get(GOALS, HTTP_ACCEPT="application/json").json()
    assert [g["id"] for g in body["goals"]] == [str(own.id)]
    assert body["goals"][0]["user_id"] == str(admin_user.id)


def test_session_writes_need_the_csrf_token(admin_user):
    from rest_framework.test import APIClient

    client = APIClient(enforce_csrf_checks=True)
    client.force_login(admin_user)
    response = client.post(GOALS, STORY_GOAL, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def test_json_is_the_default_for_clients_that_accept_anything(api, goal):
    response = api.get(GOALS, HTTP_ACCEPT="*/*")
    assert response["Content-Type"] == "application/json"


# --- Keyset cursor (deep pages) --------------------------------------------------------------


def walk_with_cursor(api, params=None, page_size=3):
    seen, cursor, requests = [], None, 0
    while True:
        query = {"page_size": page_size, **(params or {})}
        if cursor:
            query["cursor"] = cursor
        body = api.get(GOALS, query).json()
        requests += 1
        assert body["page"] == (None if cursor else 1)
        seen += [goal["id"] for goal in body["goals"]]
        cursor = body["next_cursor"]
        if cursor is None:
            assert body["next"] is None or cursor is None
            return seen, requests
        assert requests < 50


def test_cursor_walks_every_goal_once_in_the_default_order(api, alice):
    goals = make_goals(alice, 10)
    make_goals(alice, 2, status="archived")
    tied = [g.pk for g in goals[3:7]]
    Goal.objects.filter(pk__in=tied).update(created_at=dt.datetime(2025, 6, 1, tzinfo=dt.UTC))
    by_pages = []
    for page in (1, 2, 3, 4):
        by_pages += ids(api.get(GOALS, {"page_size": 3, "page": page}))
    seen, requests = walk_with_cursor(api)
    assert seen == by_pages
    assert len(seen) == len(set(seen)) == 10
    assert requests == 4


def test_cursor_with_a_status_filter(api, alice):
    make_goals(alice, 4, status="paused")
    make_goals(alice, 3, status="active")
    seen, _ = walk_with_cursor(api, {"status": "paused"}, page_size=2)
    assert len(seen) == 4
    assert set(seen) == {str(g.id) for g in Goal.objects.filter(user=alice, status="paused")}


def test_next_link_in_cursor_mode_carries_the_cursor(api, alice):
    make_goals(alice, 5)
    first = api.get(GOALS, {"page_size": 2}).json()
    second = api.get(GOALS, {"page_size": 2, "cursor": first["next_cursor"]}).json()
    assert "cursor=" in second["next"]
    assert "page=" not in second["next"]
    assert second["previous"] is None
    assert second["total"] == 5


def test_other_orderings_have_no_cursor(api, alice):
    make_goals(alice, 5)
    assert api.get(GOALS, {"page_size": 2, "ordering": "title"}).json()["next_cursor"] is None
    assert api.get(GOALS, {"page_size": 2, "ordering": "-created_at"}).json()["next_cursor"]


@pytest.mark.parametrize(
    "params",
    [
        {"cursor": "not-a-cursor"},
        {"cursor": "!!!"},
        {"cursor": "MTIz"},
        {"cursor": "x" * 201},
        {"cursor": "", "page": "2"},
    ],
)
def test_bad_cursors_are_422(api, goal, params):
    assert_422(api.get(GOALS, params), "cursor")


def test_cursor_with_page_or_another_ordering_is_422(api, alice):
    make_goals(alice, 3)
    cursor = api.get(GOALS, {"page_size": 1}).json()["next_cursor"]
    assert_422(api.get(GOALS, {"cursor": cursor, "page": 2}), "cursor")
    assert_422(api.get(GOALS, {"cursor": cursor, "ordering": "title"}), "cursor")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2027-02-29", "2027-02-29 is not a day of the calendar."),
        ("2026-13-01", "2026-13-01 is not a day of the calendar."),
        ("2026-6-1", "Date has wrong format. Use YYYY-MM-DD."),
        (20260601, "Date has wrong format. Use YYYY-MM-DD."),
    ],
)
def test_a_target_date_that_is_not_a_day_says_which_mistake(api, value, message):
    body = {"title": "Dated", "goal_type": "concrete", "value_category": "craft"}
    response = api.post(GOALS, {**body, "target_date": value}, format="json")
    assert response.status_code == 422
    assert response.json()["errors"] == {"target_date": [message]}
    if isinstance(value, str):
        listed = api.get(GOALS, {"target_date_after": value})
        assert listed.status_code == 422
        assert listed.json()["errors"] == {"target_date_after": [message]}


def test_a_leap_day_is_a_day(api):
    body = {"title": "Leap", "goal_type": "concrete", "value_category": "craft"}
    response = api.post(GOALS, {**body, "target_date": "2028-02-29"}, format="json")
    assert response.status_code == 201
    assert response.json()["target_date"] == "2028-02-29"

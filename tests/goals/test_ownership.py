"""Ownership, proven both ways: for every route and verb, neither user can read, list, change or
archive the other's goals, and the victim's rows are byte-identical afterwards."""

import pytest
from django.db import connection

from tests.conftest import client_for
from tests.factories import GoalFactory, UserFactory

pytestmark = pytest.mark.django_db

GOALS = "/api/v1/goals"


def rows_of(user) -> list[str]:
    """The user's goal rows exactly as PostgreSQL stores them."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT row_to_json(g)::text FROM goals g WHERE user_id = %s ORDER BY id", [user.pk]
        )
        return [row[0] for row in cursor.fetchall()]


def attacks(goal_id: str, etag: str):
    detail = f"{GOALS}/{goal_id}"
    body = {"title": "pwned", "status": "archived"}
    return [
        ("get", detail, None, {}),
        ("get", f"{detail}/", None, {}),
        ("head", detail, None, {}),
        ("options", detail, None, {}),
        ("get", detail, None, {"HTTP_IF_NONE_MATCH": etag}),
        ("patch", detail, body, {}),
        ("patch", f"{detail}/", body, {}),
        ("patch", detail, body, {"HTTP_IF_MATCH": etag}),
        ("patch", detail, body, {"HTTP_IF_MATCH": "*"}),
        ("patch", detail, {}, {}),
        ("put", detail, {**body, "goal_type": "abstract", "value_category": "craft"}, {}),
        ("delete", detail, None, {}),
        ("delete", f"{detail}/", None, {"HTTP_IF_MATCH": etag}),
    ]


@pytest.mark.parametrize("direction", ["alice attacks bob", "bob attacks alice"])
def test_no_user_can_touch_another_users_goals(direction):
    alice, bob = UserFactory(clerk_user_id="user_alice"), UserFactory(clerk_user_id="user_bob")
    attacker, victim = (alice, bob) if direction == "alice attacks bob" else (bob, alice)
    for status in ("active", "paused", "completed", "archived"):
        GoalFactory(user=victim, status=status)
    own = GoalFactory(user=attacker, title="Attacker's own goal")
    before = rows_of(victim)
    client = client_for(attacker)
    victim_client = client_for(victim)
    victim_ids = [row["id"] for row in victim_client.get(GOALS, {"page_size": 100}).json()["goals"]]
    victim_ids += [
        g["id"] for g in victim_client.get(GOALS, {"status": "archived"}).json()["goals"]
    ]
    assert len(victim_ids) == 4

    for goal_id in victim_ids:
        etag = victim_client.get(f"{GOALS}/{goal_id}")["ETag"]
        for method, path, body, headers in attacks(goal_id, etag):
            response = getattr(client, method)(path, body, format="json", **headers)
            if method == "options":
                assert response.status_code in (200, 404), (method, path)
                assert "pwned" not in response.content.decode()
                assert goal_id not in response.content.decode()
            elif method == "put":
                assert response.status_code == 405, (method, path)
            else:
                assert response.status_code == 404, (method, path, headers, response.status_code)
                if method != "head":
                    assert response.json() == {"detail": "Not found."}

    for params in (
        {},
        {"status": "archived"},
        {"status": "active"},
        {"goal_type": "concrete"},
        {"value_category": "growth"},
        {"ordering": "-updated_at"},
        {"page_size": 100},
        {"user_id": str(victim.pk)},
        {"user": victim.clerk_user_id},
    ):
        listed = client.get(GOALS, params).json()
        assert all(goal["id"] not in victim_ids for goal in listed["goals"]), params
        assert all(goal["user_id"] == attacker.clerk_user_id for goal in listed["goals"]), params

    created = client.post(
        GOALS,
        {
            "title": "Planted",
            "goal_type": "concrete",
            "value_category": "craft",
            "user_id": victim.clerk_user_id,
        },
        format="json",
    )
    assert created.status_code == 422

    assert rows_of(victim) == before
    assert client.get(f"{GOALS}/{own.id}").status_code == 200  # the attacker still sees their own

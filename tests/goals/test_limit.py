"""GOALS_PER_USER_LIMIT: a user holds at most that many goals, archived ones included; a POST
beyond it is 409, whoever writes and however many write at once."""

import threading

import pytest
import requests
from django.db import IntegrityError, connection, transaction

from goals import limits
from goals.models import Goal
from tests.factories import GoalFactory, UserFactory
from tests.tokens import make_token

pytestmark = pytest.mark.django_db(transaction=True)  # a refused INSERT ends its transaction

GOALS = "/api/v1/goals"
BODY = {"title": "One more", "goal_type": "concrete", "value_category": "craft"}


@pytest.fixture
def limit_of(settings):
    """Set the limit as a deployment does (the setting, then migrate's apply), and put the
    default back afterwards (the trigger is DDL: it outlives the test's data)."""

    def apply(value: int) -> None:
        settings.GOALS_PER_USER_LIMIT = value
        limits.apply_goal_limit()

    yield apply
    limits.apply_goal_limit(10_000)


def test_migrate_installs_the_configured_limit(settings):
    assert limits.installed_limit() == settings.GOALS_PER_USER_LIMIT == 10_000
    assert limits.apply_goal_limit() is False  # unchanged: no DDL


def test_a_create_beyond_the_limit_is_409_naming_it(limit_of, api, alice, bob_api):
    limit_of(3)
    assert limits.installed_limit() == 3
    GoalFactory.create_batch(2, user=alice, status="archived")  # archived goals count too
    assert api.post(GOALS, BODY, format="json").status_code == 201
    refused = api.post(GOALS, BODY, format="json")
    assert refused.status_code == 409
    assert refused.json() == {
        "detail": "Goal limit reached: A user holds at most 3 goals (archived ones included)."
    }
    assert Goal.objects.owned_by(alice).count() == 3
    assert bob_api.post(GOALS, BODY, format="json").status_code == 201  # per user


def test_the_database_refuses_every_writer_beyond_the_limit(limit_of):
    limit_of(2)
    owner, other = UserFactory(), UserFactory()
    GoalFactory.create_batch(2, user=owner)
    with (
        pytest.raises(IntegrityError) as refused,
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "INSERT INTO goals (user_id, title, goal_type, value_category) "
            "VALUES (%s, 'raw', 'concrete', 'craft')",
            [owner.pk],
        )
    assert limits.limit_reached(refused.value) == 2
    moved = GoalFactory(user=other)
    with pytest.raises(IntegrityError), transaction.atomic():
        Goal.objects.filter(pk=moved.pk).update(user=owner)  # a new owner is checked too
    Goal.objects.filter(pk=moved.pk).update(title="same owner, no check")


def test_concurrent_creates_at_the_edge_never_overshoot(limit_of, live_server):
    limit_of(5)
    owner = UserFactory(clerk_user_id="user_edge")
    GoalFactory.create_batch(3, user=owner)
    token = make_token("user_edge")
    statuses = []
    start = threading.Barrier(12)

    def create() -> None:
        start.wait()
        response = requests.post(
            f"{live_server.url}{GOALS}",
            json=BODY,
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=create) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201] * 2 + [409] * 10
    assert Goal.objects.owned_by(owner).count() == 5


def _tallies() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT user_id, goals FROM goal_owner_counts WHERE goals > 0")
        return dict(cursor.fetchall())


def _counts() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT user_id, count(*) FROM goals GROUP BY 1")
        return dict(cursor.fetchall())


def test_the_owner_counts_follow_every_kind_of_write():
    alice, bob = UserFactory(), UserFactory()
    goals = GoalFactory.create_batch(6, user=alice)
    GoalFactory.create_batch(2, user=bob)
    assert _tallies() == _counts() == {alice.pk: 6, bob.pk: 2}
    goals[0].delete()
    Goal.objects.filter(pk=goals[1].pk).update(user=bob)
    Goal.objects.filter(pk=goals[2].pk).update(status="archived", title="no owner change")
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO goals (user_id, title, goal_type, value_category) "
            "SELECT %s, 'raw', 'concrete', 'craft' FROM generate_series(1, 3)",
            [bob.pk],
        )
    assert _tallies() == _counts() == {alice.pk: 4, bob.pk: 6}
    bob.delete()  # Django's collector deletes the goals, then the user
    assert _tallies() == _counts() == {alice.pk: 4}
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM users WHERE id = %s", [alice.pk])  # ON DELETE CASCADE
    assert _tallies() == _counts() == {}

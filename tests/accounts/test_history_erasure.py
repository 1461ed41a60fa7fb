"""A user erased through Clerk's user.deleted leaves no history behind: their goals' events and
the admin's log of changes to them go in the same transaction as the goals (the contract's
"nothing of theirs remains in any table but the tombstone"). Deliveries are signed for real."""

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from rest_framework.test import APIClient

from goals.models import Goal
from tests import clerk_events
from tests.clerk_events import WEBHOOK_URL, headers, user_deleted
from tests.conftest import client_for
from tests.factories import GoalFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def secret(settings) -> str:
    settings.CLERK_WEBHOOK_SIGNING_SECRET = clerk_events.new_secret()
    return settings.CLERK_WEBHOOK_SIGNING_SECRET


def count(sql: str, params=()) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def logged(obj, admin) -> LogEntry:
    return LogEntry.objects.create(
        user=admin,
        content_type=ContentType.objects.get_for_model(obj),
        object_id=str(obj.pk),
        object_repr=str(obj),
        action_flag=CHANGE,
    )


def test_erasure_leaves_no_event_and_no_admin_log_behind(secret, admin_user):
    ada = UserFactory(clerk_user_id="user_ada")
    api = client_for(ada)
    goal = api.post(
        "/api/v1/goals",
        {"title": "Ada's secret plan", "goal_type": "concrete", "value_category": "craft"},
        format="json",
    ).json()
    api.patch(f"/api/v1/goals/{goal['id']}", {"status": "paused"}, format="json")
    GoalFactory.create_batch(3, user=ada)
    Goal.objects.filter(user=ada).update(value_category="health")
    logged(Goal.objects.get(pk=goal["id"]), admin_user)
    logged(ada, admin_user)
    other = GoalFactory(title="Someone else's goal")
    kept = logged(other, admin_user)
    assert count("SELECT count(*) FROM goal_events WHERE user_id = %s", [ada.pk]) == 9

    body = user_deleted("user_ada")
    response = APIClient().post(
        WEBHOOK_URL, body, content_type="application/json", **headers(secret, body)
    )
    assert response.json() == {"status": "processed"}

    assert count("SELECT count(*) FROM goal_events WHERE user_id = %s", [ada.pk]) == 0
    assert count("SELECT count(*) FROM goal_events WHERE goal_id = %s", [goal["id"]]) == 0
    assert count("SELECT count(*) FROM goal_events WHERE changes::text LIKE '%%secret plan%%'") == 0
    assert list(LogEntry.objects.all()) == [kept]
    # Everyone else's history stays.
    assert count("SELECT count(*) FROM goal_events WHERE goal_id = %s", [other.pk]) == 1


def test_the_erasure_and_its_history_are_one_transaction(secret):
    """The history goes inside the same BEGIN ... COMMIT as the goals and the user."""
    from django.test.utils import CaptureQueriesContext

    ada = UserFactory(clerk_user_id="user_ada")
    GoalFactory.create_batch(2, user=ada)
    body = user_deleted("user_ada")
    with CaptureQueriesContext(connection) as captured:
        APIClient().post(
            WEBHOOK_URL, body, content_type="application/json", **headers(secret, body)
        )
    sql = [query["sql"] for query in captured.captured_queries]
    log = next(i for i, q in enumerate(sql) if q.startswith('DELETE FROM "django_admin_log"'))
    # The events go with the goals' DELETE (ON DELETE CASCADE), in the same statement.
    goals = next(i for i, q in enumerate(sql) if q.startswith('DELETE FROM "goals"'))
    users = next(i for i, q in enumerate(sql) if q.startswith('DELETE FROM "users"'))
    savepoints = [i for i, q in enumerate(sql) if q.startswith("SAVEPOINT")]
    releases = [i for i, q in enumerate(sql) if q.startswith("RELEASE SAVEPOINT")]
    assert savepoints[0] < log < goals < users < releases[-1]
    assert count("SELECT count(*) FROM goal_events WHERE user_id = %s", [ada.pk]) == 0

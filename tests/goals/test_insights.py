"""Insights (the contract's example and rules), on data built for each rule, through the API."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.db import connection

from goals.models import Goal
from tests.factories import GoalFactory

pytestmark = pytest.mark.django_db

INSIGHTS = "/api/v1/goals/insights"
STATUSES = {"active": 0, "paused": 0, "completed": 0, "archived": 0}


def execute(statement: str, params=()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def insights(api, **params) -> dict:
    response = api.get(INSIGHTS, params)
    assert response.status_code == 200, response.content
    return response.json()


def today(zone: str = "UTC") -> dt.date:
    return dt.datetime.now(ZoneInfo(zone)).date()


def completed(goal, *, created_days_ago: float) -> None:
    """``goal`` created that long ago, completed now (a write the history records)."""
    created = dt.datetime.now(dt.UTC) - dt.timedelta(days=created_days_ago)
    execute("UPDATE goals SET created_at = %s WHERE id = %s", [created, goal.id])
    Goal.objects.filter(pk=goal.pk).update(status="completed")


def test_nobody_s_goals_yet_every_key_with_zeros(api):
    assert insights(api) == {
        "today": today().isoformat(),
        "by_value_category": {
            category: STATUSES for category in ("health", "craft", "growth", "connection")
        },
        "by_goal_type": {
            goal_type: {**STATUSES, "completion_rate": None}
            for goal_type in ("abstract", "concrete")
        },
        "completed": {
            "count": 0,
            "on_time": 0,
            "late": 0,
            "without_target_date": 0,
            "median_days_to_complete": None,
        },
        "overdue": 0,
        "due_within_30_days": 0,
    }


def test_counts_by_current_status_and_completion_rates(api, alice, bob):
    for status in ("active", "active", "paused", "completed", "archived"):
        GoalFactory(user=alice, goal_type="concrete", value_category="health", status=status)
    GoalFactory(user=alice, goal_type="abstract", value_category="craft", status="archived")
    GoalFactory(user=bob, goal_type="abstract", value_category="craft", status="completed")
    body = insights(api)
    assert body["by_value_category"]["health"] == {
        "active": 2,
        "paused": 1,
        "completed": 1,
        "archived": 1,
    }
    assert body["by_value_category"]["craft"] == {**STATUSES, "archived": 1}
    assert body["by_value_category"]["growth"] == STATUSES
    assert body["by_goal_type"]["concrete"] == {
        "active": 2,
        "paused": 1,
        "completed": 1,
        "archived": 1,
        "completion_rate": 0.25,  # archived left out: 1 / (2 + 1 + 1)
    }
    # Only archived goals: 0/0, not 0.
    assert body["by_goal_type"]["abstract"] == {**STATUSES, "archived": 1, "completion_rate": None}
    assert body["completed"]["count"] == 1


def test_on_time_late_undated_and_the_median(api, alice):
    now = today()
    on_time = GoalFactory(user=alice, target_date=now + dt.timedelta(days=5))
    on_the_day = GoalFactory(user=alice, target_date=now)
    late = GoalFactory(user=alice, target_date=now - dt.timedelta(days=1))
    undated = GoalFactory(user=alice, target_date=None)
    for goal, days in ((on_time, 10), (on_the_day, 12), (late, 13), (undated, 15)):
        completed(goal, created_days_ago=days)
    assert insights(api)["completed"] == {
        "count": 4,
        "on_time": 2,
        "late": 1,
        "without_target_date": 1,
        "median_days_to_complete": 12.5,  # of 10, 12, 13 and 15 days
    }


def test_the_median_has_one_decimal(api, alice):
    completed(GoalFactory(user=alice), created_days_ago=2.26)
    assert insights(api)["completed"]["median_days_to_complete"] == 2.3


def test_a_completion_counts_from_when_the_status_last_became_completed(api, alice):
    """Completed late, reopened, completed again: the last completion is the one."""
    goal = GoalFactory(user=alice, target_date=today() - dt.timedelta(days=3))
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=40)
    execute("UPDATE goals SET created_at = %s WHERE id = %s", [long_ago, goal.id])
    # An earlier completion, on time (its event written with its own time).
    execute(
        "INSERT INTO goal_events (goal_id, user_id, occurred_at, action, actor, changes) VALUES "
        '(%s, %s, %s, \'updated\', \'system\', \'{"status": {"from": "active", "to": '
        '"completed"}}\')',
        [goal.id, alice.pk, long_ago + dt.timedelta(days=10)],
    )
    Goal.objects.filter(pk=goal.pk).update(status="completed")
    assert insights(api)["completed"] == {
        "count": 1,
        "on_time": 0,
        "late": 1,
        "without_target_date": 0,
        "median_days_to_complete": 40.0,
    }
    # Reopened: not completed now, whatever its history says.
    Goal.objects.filter(pk=goal.pk).update(status="active")
    assert insights(api)["completed"]["count"] == 0


def test_a_goal_created_completed_was_completed_at_its_creation(api, alice):
    GoalFactory(user=alice, status="completed", target_date=today())
    assert insights(api)["completed"] == {
        "count": 1,
        "on_time": 1,
        "late": 0,
        "without_target_date": 0,
        "median_days_to_complete": 0.0,
    }


def test_a_completed_goal_whose_events_were_deleted_counts_from_its_last_change(api, alice):
    goal = GoalFactory(user=alice, target_date=today() + dt.timedelta(days=1))
    completed(goal, created_days_ago=6)
    execute("DELETE FROM goal_events WHERE goal_id = %s", [goal.id])
    body = insights(api)["completed"]
    assert (body["count"], body["on_time"], body["median_days_to_complete"]) == (1, 1, 6.0)


def test_overdue_and_due_within_30_days(api, alice):
    now = today()
    for status in ("active", "paused", "completed", "archived"):
        GoalFactory(user=alice, status=status, target_date=now - dt.timedelta(days=1))  # overdue?
        GoalFactory(user=alice, status=status, target_date=now)  # due today
        GoalFactory(user=alice, status=status, target_date=now + dt.timedelta(days=30))
        GoalFactory(user=alice, status=status, target_date=now + dt.timedelta(days=31))
        GoalFactory(user=alice, status=status, target_date=None)
    body = insights(api)
    assert body["overdue"] == 2  # active and paused only
    assert body["due_within_30_days"] == 4  # today and today + 30, active and paused


def test_tz_sets_today(api, alice):
    """Kiritimati (UTC+14) and Pago Pago (UTC-11) are always on different days."""
    east, west = today("Pacific/Kiritimati"), today("Pacific/Pago_Pago")
    assert east == west + dt.timedelta(days=1)
    GoalFactory(user=alice, target_date=west)
    in_the_west = insights(api, tz="Pacific/Pago_Pago")
    in_the_east = insights(api, tz="Pacific/Kiritimati")
    assert (in_the_west["today"], in_the_east["today"]) == (west.isoformat(), east.isoformat())
    assert (in_the_west["overdue"], in_the_west["due_within_30_days"]) == (0, 1)
    assert (in_the_east["overdue"], in_the_east["due_within_30_days"]) == (1, 0)
    assert insights(api)["today"] == today().isoformat()


def test_tz_sets_the_day_a_goal_was_completed(api, alice):
    """Completed now, due yesterday-in-the-east: on time in the west, late in the east."""
    west = today("Pacific/Pago_Pago")
    completed(GoalFactory(user=alice, target_date=west), created_days_ago=1)
    assert insights(api, tz="Pacific/Pago_Pago")["completed"]["on_time"] == 1
    assert insights(api, tz="Pacific/Kiritimati")["completed"]["late"] == 1


@pytest.mark.parametrize(
    "zone", ["Mars/Olympus_Mons", "utc+2", "../../etc/passwd", "Europe/Paris\x00", "x" * 65]
)
def test_an_unknown_zone_is_422(api, zone):
    response = api.get(INSIGHTS, {"tz": zone})
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"tz"}


def test_insights_cost_two_queries_at_the_goal_limit(api, alice, django_assert_num_queries):
    """10,000 goals (the per-user limit), a fifth of them completed: still two queries."""
    execute(
        "INSERT INTO goals (user_id, title, goal_type, value_category, status, target_date) "
        "SELECT %s, 'Goal ' || g, (ARRAY['abstract','concrete'])[1 + mod(g, 2)], "
        "(ARRAY['health','craft','growth','connection'])[1 + mod(g, 4)], "
        "(ARRAY['active','paused','completed','archived','active'])[1 + mod(g, 5)], "
        "CURRENT_DATE + (mod(g, 90) - 45) FROM generate_series(1, 10000) g",
        [alice.pk],
    )
    execute(
        "UPDATE goals SET status = 'active' WHERE user_id = %s AND status = 'completed'",
        [alice.pk],
    )
    execute(
        "UPDATE goals SET status = 'completed' WHERE user_id = %s AND right(title, 1) = '2'",
        [alice.pk],
    )
    api.get("/api/v1/goals/00000000-0000-0000-0000-000000000000")  # the account known
    with django_assert_num_queries(2):
        body = insights(api)
    assert sum(sum(c.values()) for c in body["by_value_category"].values()) == 10_000
    assert body["completed"]["count"] == 1000
    assert body["completed"]["on_time"] + body["completed"]["late"] == 1000

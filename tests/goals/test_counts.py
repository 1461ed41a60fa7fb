"""goal_counts, kept by a trigger, always equals COUNT(*) over goals, whoever writes."""

import threading

import pytest
from django.db import connection, connections

from goals import queries
from goals.models import Goal, GoalStatus
from tests.factories import GoalFactory, UserFactory


def counted() -> dict:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT user_id, status, SUM(n) FROM goal_counts GROUP BY 1, 2 HAVING SUM(n) > 0"
        )
        return {(user, status): n for user, status, n in cursor.fetchall()}


def actual() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT user_id, status, COUNT(*) FROM goals GROUP BY 1, 2")
        return {(user, status): n for user, status, n in cursor.fetchall()}


@pytest.mark.django_db
def test_counts_follow_every_kind_of_write():
    alice, bob = UserFactory(), UserFactory()
    goals = GoalFactory.create_batch(12, user=alice)
    GoalFactory.create_batch(3, user=bob, status=GoalStatus.PAUSED)
    assert counted() == actual()
    Goal.objects.filter(pk__in=[g.pk for g in goals[:5]]).update(status=GoalStatus.ARCHIVED)
    assert counted() == actual()
    goals[6].status = GoalStatus.COMPLETED
    goals[6].save()
    goals[7].delete()
    assert counted() == actual()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO goals (user_id, title, goal_type, value_category) VALUES (%s, 'raw', 'concrete', 'craft')",
            [bob.pk],
        )
        cursor.execute("UPDATE goals SET status = 'active' WHERE user_id = %s", [bob.pk])
        cursor.execute("UPDATE goals SET user_id = %s WHERE id = %s", [bob.pk, goals[8].pk])
        cursor.execute("UPDATE goals SET title = 'no status change' WHERE user_id = %s", [alice.pk])
    assert counted() == actual()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM users WHERE id = %s", [alice.pk])
    assert counted() == actual()
    bob.delete()  # the ORM's own cascade
    assert counted() == actual() == {}


@pytest.mark.django_db
def test_goal_total_matches_the_querysets():
    user = UserFactory()
    for status, count in (("active", 4), ("paused", 2), ("completed", 1), ("archived", 3)):
        GoalFactory.create_batch(count, user=user, status=status)
    GoalFactory.create_batch(5, user=UserFactory())
    assert queries.goal_total(user) == Goal.objects.owned_by(user).visible().count() == 7
    for status in GoalStatus.values:
        assert (
            queries.goal_total(user, status)
            == Goal.objects.owned_by(user).filter(status=status).count()
        )
    assert queries.goal_total(UserFactory()) == 0


@pytest.mark.django_db(transaction=True)
def test_opposite_status_changes_at_once_do_not_deadlock():
    """Two transactions moving goals of one user between the same two statuses, in opposite
    directions, take their counter rows in the same order."""
    user = UserFactory()
    goals = GoalFactory.create_batch(40, user=user)
    Goal.objects.filter(pk__in=[g.pk for g in goals[::2]]).update(status=GoalStatus.PAUSED)
    errors = []
    barrier = threading.Barrier(2)

    def flip(ids, new_status):
        try:
            barrier.wait()
            for goal_id in ids:
                Goal.objects.filter(pk=goal_id).update(status=new_status)
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    paused = [g.pk for g in goals[::2]]
    active = [g.pk for g in goals[1::2]]
    threads = [
        threading.Thread(target=flip, args=(paused, GoalStatus.ACTIVE)),
        threading.Thread(target=flip, args=(active, GoalStatus.PAUSED)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert counted() == actual()

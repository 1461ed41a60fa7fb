"""Queries per request, asserted: no N+1, nothing that grows with the page size.

Budgets (issue #5, tightened by #7): authentication of a known user 0 (in-process cache), list 2
(total + page), retrieve 1, create 1, patch 1 (UPDATE ... RETURNING the row; 2 with If-Match: read, then the
write at the version read; 2 when it changes nothing or the goal is not the user's: the UPDATE
matches nothing, then a read), archive 2; a new
user's very first request adds the account (SELECT, then an INSERT under an advisory lock in a
transaction: 5 statements in a test, issue #14).
"""

import pytest

from goals import versions
from tests.factories import GoalFactory

pytestmark = pytest.mark.django_db

GOALS = "/api/v1/goals"


@pytest.fixture
def warm_api(api, alice):
    """Alice's client after one request: her account is known to this process."""
    assert api.get(f"{GOALS}/00000000-0000-0000-0000-000000000000").status_code == 404
    return api


@pytest.mark.parametrize("count", [1, 10, 100])
def test_a_first_page_costs_one_query_whatever_its_size(
    warm_api, alice, count, django_assert_num_queries
):
    GoalFactory.create_batch(count, user=alice)
    with django_assert_num_queries(1):
        response = warm_api.get(GOALS, {"page_size": 100})
    assert len(response.json()["goals"]) == count


@pytest.mark.parametrize(
    "params", [{"status": "active"}, {"ordering": "title"}, {"goal_type": "concrete"}]
)
def test_filtered_lists_cost_one_query(warm_api, alice, params, django_assert_num_queries):
    GoalFactory.create_batch(5, user=alice)
    with django_assert_num_queries(1):
        assert warm_api.get(GOALS, params).status_code == 200


def test_a_deeper_page_costs_two_queries(warm_api, alice, django_assert_num_queries):
    GoalFactory.create_batch(5, user=alice)
    with django_assert_num_queries(2):
        assert len(warm_api.get(GOALS, {"page": 2, "page_size": 2}).json()["goals"]) == 2


def test_a_cursor_page_costs_two_queries(warm_api, alice, django_assert_num_queries):
    GoalFactory.create_batch(5, user=alice)
    cursor = warm_api.get(GOALS, {"page_size": 2}).json()["next_cursor"]
    with django_assert_num_queries(2):
        assert len(warm_api.get(GOALS, {"page_size": 2, "cursor": cursor}).json()["goals"]) == 2


def test_list_page_past_the_end_costs_one_query(warm_api, alice, django_assert_num_queries):
    GoalFactory.create_batch(2, user=alice)
    with django_assert_num_queries(1):
        assert warm_api.get(GOALS, {"page": 9}).json()["goals"] == []


def test_retrieve_costs_one_query(warm_api, goal, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert warm_api.get(f"{GOALS}/{goal.id}").status_code == 200


def test_create_costs_one_query(warm_api, django_assert_num_queries):
    body = {"title": "One insert", "goal_type": "concrete", "value_category": "craft"}
    with django_assert_num_queries(1):
        assert warm_api.post(GOALS, body, format="json").status_code == 201


def test_patch_costs_one_query(warm_api, goal, django_assert_num_queries):
    """UPDATE ... RETURNING the whole row: the answer is what the statement wrote."""
    with django_assert_num_queries(1):
        response = warm_api.patch(f"{GOALS}/{goal.id}", {"status": "paused"}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "paused"
    assert response.json()["title"] == goal.title
    goal.refresh_from_db()
    assert response["ETag"] == versions.etag(goal.updated_at)


def test_patch_that_changes_nothing_costs_two_queries(warm_api, goal, django_assert_num_queries):
    """The UPDATE matches nothing (every field already holds its value), then the goal is read."""
    with django_assert_num_queries(2):
        response = warm_api.patch(f"{GOALS}/{goal.id}", {"title": goal.title}, format="json")
    assert response.status_code == 200
    assert response["ETag"] == versions.etag(goal.updated_at)


def test_patch_with_if_match_costs_two_queries(warm_api, goal, django_assert_num_queries):
    """The goal read first, then written at the version read (goals.services.goal_update)."""
    current = warm_api.get(f"{GOALS}/{goal.id}")["ETag"]
    with django_assert_num_queries(2):
        response = warm_api.patch(
            f"{GOALS}/{goal.id}", {"status": "paused"}, format="json", HTTP_IF_MATCH=current
        )
    assert response.status_code == 200


def test_patch_of_a_goal_that_is_not_the_users_costs_two_queries(
    warm_api, django_assert_num_queries
):
    """The UPDATE matches nothing; the read that follows tells a goal that is not the user's
    (404) from a body that changes nothing (200)."""
    other = GoalFactory()  # another user's
    with django_assert_num_queries(2):
        response = warm_api.patch(f"{GOALS}/{other.id}", {"status": "paused"}, format="json")
    assert response.status_code == 404
    other.refresh_from_db()
    assert other.status == "active"


def test_archive_costs_two_queries_and_archiving_again_one(
    warm_api, goal, django_assert_num_queries
):
    with django_assert_num_queries(2):
        assert warm_api.delete(f"{GOALS}/{goal.id}").status_code == 200
    with django_assert_num_queries(1):
        assert warm_api.delete(f"{GOALS}/{goal.id}").status_code == 200


def test_first_request_of_a_new_user_adds_only_the_account(
    api_client, django_assert_max_num_queries
):
    from tests.tokens import make_token

    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_token('user_brand_new')}")
    # SELECT (not known), then SAVEPOINT / advisory lock / INSERT ... unless erased / RELEASE
    # (accounts.services._create_on_first_sight: the lock keeps an erasure racing this first
    # request from being undone, issue #14); then the list's COUNT. Once per user, ever.
    with django_assert_max_num_queries(6):
        assert api_client.get(GOALS).status_code == 200

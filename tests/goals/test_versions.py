"""Lost updates: strong ETags, If-Match (412 when stale, checked in the same SQL statement as the
write) and If-None-Match (304)."""

import threading

import pytest
import requests

from goals.models import Goal, GoalStatus
from goals.versions import etag, versions_matching
from tests.tokens import make_token

pytestmark = pytest.mark.django_db

GOALS = "/api/v1/goals"
BODY = {"title": "Versioned", "goal_type": "concrete", "value_category": "craft"}


def url(goal) -> str:
    return f"{GOALS}/{goal.id}"


def snapshot(goal) -> tuple:
    return tuple(Goal.objects.filter(pk=goal.pk).values_list()[0])


def test_every_single_goal_response_carries_a_strong_etag(api):
    created = api.post(GOALS, BODY, format="json")
    goal = Goal.objects.get(pk=created.json()["id"])
    assert created["ETag"] == etag(goal.updated_at)
    assert not created["ETag"].startswith("W/")
    fetched = api.get(f"{GOALS}/{goal.id}")
    assert fetched["ETag"] == created["ETag"]
    patched = api.patch(f"{GOALS}/{goal.id}", {"title": "New"}, format="json")
    assert patched["ETag"] != created["ETag"]
    archived = api.delete(f"{GOALS}/{goal.id}")
    assert archived["ETag"] != patched["ETag"]
    assert api.get(f"{GOALS}/{goal.id}")["ETag"] == archived["ETag"]


def test_list_and_errors_carry_no_etag(api, goal):
    assert not api.get(GOALS).has_header("ETag")
    assert not api.patch(url(goal), {"title": ""}, format="json").has_header("ETag")


def test_etag_survives_gzip_negotiation(api, goal):
    plain = api.get(url(goal))["ETag"]
    assert api.get(url(goal), HTTP_ACCEPT_ENCODING="gzip")["ETag"] == plain


def test_patch_with_the_current_etag_succeeds(api, goal):
    current = api.get(url(goal))["ETag"]
    response = api.patch(url(goal), {"status": "paused"}, format="json", HTTP_IF_MATCH=current)
    assert response.status_code == 200
    assert response.json()["status"] == "paused"


@pytest.mark.parametrize(
    "header",
    ['"1"', 'W/"{current}"', "garbage", '"not-digits"', '"' + "9" * 40 + '"', '"1", "2"'],
)
def test_patch_with_a_stale_or_unusable_etag_is_412_and_changes_nothing(api, goal, header):
    current = api.get(url(goal))["ETag"].strip('"')
    before = snapshot(goal)
    response = api.patch(
        url(goal), {"status": "paused"}, format="json", HTTP_IF_MATCH=header.format(current=current)
    )
    assert response.status_code == 412
    assert set(response.json()) == {"detail"}
    assert snapshot(goal) == before


def test_if_match_accepts_any_of_several_tags_and_the_wildcard(api, goal):
    current = api.get(url(goal))["ETag"]
    assert (
        api.patch(
            url(goal), {"title": "A"}, format="json", HTTP_IF_MATCH=f'"1", {current}'
        ).status_code
        == 200
    )
    assert api.patch(url(goal), {"title": "B"}, format="json", HTTP_IF_MATCH="*").status_code == 200


def test_an_empty_patch_still_checks_the_version(api, goal):
    assert api.patch(url(goal), {}, format="json", HTTP_IF_MATCH='"1"').status_code == 412


def test_patch_after_someone_elses_change_is_412(api, goal):
    seen = api.get(url(goal))["ETag"]
    assert api.patch(url(goal), {"title": "First writer"}, format="json").status_code == 200
    response = api.patch(url(goal), {"title": "Second writer"}, format="json", HTTP_IF_MATCH=seen)
    assert response.status_code == 412
    assert Goal.objects.get(pk=goal.pk).title == "First writer"


def test_archive_with_a_stale_etag_is_412(api, goal):
    response = api.delete(url(goal), HTTP_IF_MATCH='"1"')
    assert response.status_code == 412
    assert Goal.objects.get(pk=goal.pk).status == GoalStatus.ACTIVE
    current = api.get(url(goal))["ETag"]
    assert api.delete(url(goal), HTTP_IF_MATCH=current).status_code == 200


def test_if_none_match_is_304_while_unchanged(api, goal):
    current = api.get(url(goal))["ETag"]
    response = api.get(url(goal), HTTP_IF_NONE_MATCH=current)
    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == current
    assert api.get(url(goal), HTTP_IF_NONE_MATCH=f"W/{current}").status_code == 304
    api.patch(url(goal), {"title": "Changed"}, format="json")
    assert api.get(url(goal), HTTP_IF_NONE_MATCH=current).status_code == 200


def test_without_if_match_writes_work_as_before(api, goal):
    assert api.patch(url(goal), {"title": "Last writer wins"}, format="json").status_code == 200


@pytest.mark.parametrize("if_match", [False, True])
@pytest.mark.parametrize(
    "body",
    [
        {"status": "active"},  # the goal's own values, one or several
        {"title": "  Run a marathon  ", "description": None, "target_date": None},
        {"goal_type": "concrete", "value_category": "health", "status": "active"},
    ],
)
def test_a_patch_that_changes_nothing_keeps_the_version(api, goal, body, if_match):
    """Sending the values a goal already has writes nothing: its updated_at and ETag stay, so
    another client's If-Match still holds, and its history records nothing."""
    Goal.objects.filter(pk=goal.pk).update(
        title="Run a marathon", description=None, target_date=None, goal_type="concrete",
        value_category="health", status="active",
    )  # fmt: skip
    before = snapshot(goal)
    current = api.get(url(goal))["ETag"]
    events = goal.events.count()
    headers = {"HTTP_IF_MATCH": current} if if_match else {}
    response = api.patch(url(goal), body, format="json", **headers)
    assert response.status_code == 200
    assert response["ETag"] == current
    assert response.json() == api.get(url(goal)).json()
    assert snapshot(goal) == before
    assert goal.events.count() == events
    other_client = api.patch(url(goal), {"title": "Second"}, format="json", HTTP_IF_MATCH=current)
    assert other_client.status_code == 200


@pytest.mark.parametrize(
    ("stored", "sent"),
    [
        ({"status": "active"}, {"status": "paused"}),
        ({"description": None}, {"description": "Now said"}),  # NULL to a value
        ({"description": "Said"}, {"description": None}),  # a value to NULL
        ({"target_date": None}, {"target_date": "2027-01-31"}),
    ],
)
def test_a_patch_that_changes_one_field_of_several_writes(api, goal, stored, sent):
    Goal.objects.filter(pk=goal.pk).update(**stored)
    current = api.get(url(goal))["ETag"]
    response = api.patch(url(goal), {"title": goal.title, **sent}, format="json")
    assert response.status_code == 200
    assert response["ETag"] != current
    assert {name: response.json()[name] for name in sent} == sent
    assert goal.events.filter(action="updated", actor="user").count() == 1


def test_a_patch_that_would_change_nothing_on_another_users_goal_is_404(bob_api, goal):
    assert bob_api.patch(url(goal), {"title": goal.title}, format="json").status_code == 404


def test_another_users_goal_is_404_even_with_if_match(bob_api, api, goal):
    current = api.get(url(goal))["ETag"]
    assert (
        bob_api.patch(url(goal), {"title": "x"}, format="json", HTTP_IF_MATCH=current).status_code
        == 404
    )


def test_version_parsing():
    assert versions_matching("*") is None
    assert versions_matching("") == []
    assert len(versions_matching('"1", W/"2", "x"')) == 1


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_patches_with_the_same_etag_one_wins(live_server, alice):
    goal = Goal.objects.create(
        user=alice, title="Contested", goal_type="concrete", value_category="craft"
    )
    headers = {"Authorization": f"Bearer {make_token(alice.clerk_user_id)}"}
    goal_url = f"{live_server.url}{GOALS}/{goal.id}"
    seen = requests.get(goal_url, headers=headers, timeout=10).headers["ETag"]
    for round_number in range(5):
        barrier = threading.Barrier(2)
        results = []

        def patch(title, seen=seen, barrier=barrier, results=results):
            barrier.wait()
            response = requests.patch(
                goal_url, json={"title": title}, headers={**headers, "If-Match": seen}, timeout=10
            )
            results.append((response.status_code, title))

        # Titles new in every round: a PATCH that changes nothing writes nothing (and wins).
        titles = [f"round {round_number}, writer {n}" for n in (1, 2)]
        threads = [threading.Thread(target=patch, args=(title,)) for title in titles]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        statuses = sorted(status for status, _ in results)
        assert statuses == [200, 412], (round_number, results)
        winner = next(title for status, title in results if status == 200)
        assert Goal.objects.get(pk=goal.pk).title == winner
        seen = requests.get(goal_url, headers=headers, timeout=10).headers["ETag"]


@pytest.mark.parametrize(
    ("method", "if_match", "status"),
    # Without If-Match an archive reads the goal first: gone, it is 404. A PATCH with If-Match
    # reads it first too: no current version matches the one named, 412 (RFC 9110 13.1.1).
    [("delete", False, 404), ("patch", True, 412)],
)
def test_a_goal_deleted_between_read_and_write_is_refused(
    api, goal, monkeypatch, method, if_match, status
):
    """The row can vanish (its owner deleted by staff) after the goal was read. (A PATCH
    without If-Match reads nothing first: one UPDATE, which finds the goal or not.)"""
    from goals import services

    original = services.goal_update

    def delete_first(**kwargs):
        Goal.objects.filter(pk=kwargs["goal"].pk).delete()
        return original(**kwargs)

    monkeypatch.setattr(services, "goal_update", delete_first)
    headers = {"HTTP_IF_MATCH": api.get(url(goal))["ETag"]} if if_match else {}
    body = {"title": "Too late"} if method == "patch" else None
    response = getattr(api, method)(url(goal), body, format="json", **headers)
    assert response.status_code == status
    if status == 404:
        assert response.json() == {"detail": "Not found."}
    assert not Goal.objects.filter(pk=goal.pk).exists()

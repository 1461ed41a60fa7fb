"""What clients that retry, sync and search rely on (the contract's "For clients that retry, sync
and search"): Idempotency-Key, incremental sync, deadlines, search, Link headers, ordering."""

import datetime as dt
import threading
import uuid

import pytest
import requests
from django.core.management import call_command
from django.db import connection

from goals.models import Goal, IdempotencyKey
from tests.factories import GoalFactory, UserFactory
from tests.tokens import make_token

pytestmark = pytest.mark.django_db

GOALS = "/api/v1/goals"
BODY = {"title": "Learn to sail", "goal_type": "concrete", "value_category": "craft"}


def post(client, body=BODY, key: str | None = None):
    headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
    return client.post(GOALS, body, format="json", **headers)


# --- Idempotency-Key ---------------------------------------------------------------------------


def test_a_retry_with_the_same_key_gets_the_first_answer_and_creates_nothing(api, alice):
    first = post(api, key="create-sail-1")
    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first
    # The same JSON, spelt differently: other key order and spacing.
    retry = api.generic(
        "POST",
        GOALS,
        b'{ "value_category":"craft",  "goal_type": "concrete", "title": "Learn to sail" }',
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="create-sail-1",
    )
    assert retry.status_code == 201
    assert retry["Idempotent-Replayed"] == "true"
    assert retry.json() == first.json()
    assert retry["Location"] == first["Location"]
    assert retry["ETag"] == first["ETag"]
    assert Goal.objects.owned_by(alice).count() == 1


def test_the_same_key_with_another_body_is_422_naming_the_header(api, alice):
    assert post(api, key="k-1").status_code == 201
    response = post(api, {**BODY, "title": "Something else"}, key="k-1")
    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["Idempotency-Key"]
    assert Goal.objects.owned_by(alice).count() == 1


@pytest.mark.parametrize("key", ["", " ", "has space", "x" * 256, "café", "tab\there", "nul\x00"])
def test_a_malformed_key_is_422_naming_the_header(api, alice, key):
    response = post(api, key=key)
    assert response.status_code == 422
    assert response.json()["errors"] == {
        "Idempotency-Key": ["Must be 1 to 255 visible ASCII characters (no spaces)."]
    }
    assert not Goal.objects.owned_by(alice).exists()


def test_the_longest_key_is_accepted():
    client_key = "~" * 255
    user = UserFactory()
    from tests.conftest import client_for

    assert post(client_for(user), key=client_key).status_code == 201


def test_keys_of_different_users_never_meet(api, bob_api, alice, bob):
    mine = post(api, key="shared-key")
    theirs = post(bob_api, {**BODY, "title": "Bob's own"}, key="shared-key")
    assert mine.status_code == theirs.status_code == 201
    assert "Idempotent-Replayed" not in theirs
    assert mine.json()["id"] != theirs.json()["id"]
    assert theirs.json()["user_id"] == "user_bob"


def test_a_refused_create_keeps_no_answer(api, alice):
    assert post(api, {**BODY, "goal_type": "fuzzy"}, key="fix-and-retry").status_code == 422
    corrected = post(api, key="fix-and-retry")
    assert corrected.status_code == 201
    assert "Idempotent-Replayed" not in corrected


def test_an_expired_key_can_be_used_again_and_is_pruned(api, alice):
    assert post(api, key="old").status_code == 201
    IdempotencyKey.objects.update(expires_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    again = post(api, key="old")
    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again
    assert Goal.objects.owned_by(alice).count() == 2
    # Another keyed create prunes a bounded batch of expired keys on the way.
    IdempotencyKey.objects.update(expires_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    assert post(api, key="new").status_code == 201
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]


def test_the_prune_command_deletes_expired_keys(api, alice, capsys):
    assert post(api, key="a").status_code == 201
    assert post(api, key="b").status_code == 201
    IdempotencyKey.objects.filter(key="a").update(expires_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    call_command("prune_idempotency_keys")
    assert "Deleted 1 expired idempotency keys." in capsys.readouterr().out
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["b"]


def test_a_key_is_kept_for_24_hours(api, alice):
    assert post(api, key="day").status_code == 201
    kept = IdempotencyKey.objects.get(key="day")
    assert kept.expires_at - kept.created_at == dt.timedelta(hours=24)
    assert kept.status_code == 201


def test_a_keyed_create_costs_its_own_queries_only(api, alice, django_assert_max_num_queries):
    post(api, key="warm")  # the account is known
    # savepoint, claim, prune, insert, answer, release (the test's transaction makes the
    # request's own one a savepoint)
    with django_assert_max_num_queries(6):
        assert post(api, key="counted").status_code == 201


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_create_one_goal(live_server):
    owner = UserFactory(clerk_user_id="user_concurrent_key")
    token = make_token("user_concurrent_key")
    answers = []
    start = threading.Barrier(8)

    def create() -> None:
        start.wait()
        response = requests.post(
            f"{live_server.url}{GOALS}",
            json=BODY,
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "once"},
            timeout=30,
        )
        answers.append(response)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Goal.objects.owned_by(owner).count() == 1
    assert {response.status_code for response in answers} == {201}
    assert len({response.json()["id"] for response in answers}) == 1
    replayed = [r for r in answers if r.headers.get("Idempotent-Replayed") == "true"]
    assert len(replayed) == 7


@pytest.mark.django_db(transaction=True)
def test_pruning_never_deletes_a_key_someone_is_reusing():
    """Issue 22, item 6: user B re-sends a key whose row had expired; meanwhile user A's keyed
    create prunes. The prune's DELETE waited on B's claimed row and deleted it once B committed,
    so B's retry with the same key and body made a second goal instead of a replay."""
    import psycopg
    from django.db import transaction

    from goals import idempotency

    owner = UserFactory(clerk_user_id="user_reusing_a_key")
    expired = IdempotencyKey.objects.create(
        user=owner,
        key="again",
        fingerprint="0" * 64,
        status_code=201,
        body={},
        expires_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
    )
    settings_dict = connection.settings_dict
    other = psycopg.connect(
        dbname=settings_dict["NAME"],
        user=settings_dict["USER"],
        password=settings_dict["PASSWORD"],
        host=settings_dict["HOST"],
        port=settings_dict["PORT"] or None,
    )
    pruned = []
    try:
        # B claims the expired key in its own transaction (the row now holds B's new expiry,
        # and B's lock on it) and has not committed yet.
        other.execute(idempotency._CLAIM, [owner.pk, "again", "1" * 64, idempotency.KEEP_FOR])

        def prune() -> None:
            with transaction.atomic():
                pruned.append(idempotency._prune())
            connection.close()

        pruning = threading.Thread(target=prune)
        pruning.start()
        pruning.join(timeout=1.0)  # before: the DELETE waits here on B's row
        other.commit()
        pruning.join(timeout=10)
        assert not pruning.is_alive()
    finally:
        other.close()
    assert pruned == [0]
    kept = IdempotencyKey.objects.get(pk=expired.pk)
    assert kept.fingerprint == "1" * 64
    assert kept.expires_at > dt.datetime.now(dt.UTC)


# --- Incremental sync and deadlines --------------------------------------------------------------


def _set_times(goal, *, created=None, updated=None) -> None:
    """Timestamps as a test needs them (the trigger would set updated_at: switch it off)."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")  # triggers off (superuser)
        cursor.execute(
            "UPDATE goals SET created_at = COALESCE(%s, created_at), "
            "updated_at = COALESCE(%s, updated_at) WHERE id = %s",
            [created, updated, goal.pk],
        )
        cursor.execute("SET LOCAL session_replication_role = DEFAULT")


def at(day: int, hour: int = 12) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, tzinfo=dt.UTC)


@pytest.fixture
def timeline(alice):
    goals = {
        "old": GoalFactory(user=alice, title="old"),
        "changed": GoalFactory(user=alice, title="changed"),
        "archived": GoalFactory(user=alice, title="archived", status="archived"),
        "new": GoalFactory(user=alice, title="new"),
    }
    _set_times(goals["old"], created=at(1), updated=at(2))
    _set_times(goals["changed"], created=at(1), updated=at(10))
    _set_times(goals["archived"], created=at(2), updated=at(11))
    _set_times(goals["new"], created=at(12), updated=at(12))
    GoalFactory(user=UserFactory(), title="someone else's")
    return goals


def titles(response) -> list[str]:
    assert response.status_code == 200, response.json()
    return [goal["title"] for goal in response.json()["goals"]]


def test_updated_after_syncs_what_changed_archived_included_in_a_stable_order(api, timeline):
    response = api.get(GOALS, {"updated_after": "2026-03-10T12:00:00Z", "ordering": "updated_at"})
    assert titles(response) == ["changed", "archived", "new"]  # the bound itself is included
    assert response.json()["total"] == 3
    assert titles(
        api.get(GOALS, {"updated_after": "2026-03-10T12:00:00Z", "status": "active"})
    ) == [
        "new",
        "changed",
    ]


def test_updated_before_and_created_bounds_are_inclusive(api, timeline):
    assert titles(api.get(GOALS, {"updated_before": "2026-03-02T12:00:00Z"})) == ["old"]
    created = api.get(
        GOALS,
        {"created_after": "2026-03-01T12:00:00Z", "created_before": "2026-03-02T12:00:00+00:00"},
    )
    # Both created at the same instant (id breaks the tie); archived goals stay out without
    # status or updated_after.
    assert sorted(titles(created)) == ["changed", "old"]


def test_a_timestamp_with_an_offset_is_the_same_instant(api, timeline):
    utc = titles(api.get(GOALS, {"updated_after": "2026-03-10T12:00:00Z"}))
    assert titles(api.get(GOALS, {"updated_after": "2026-03-10T14:00:00+02:00"})) == utc


@pytest.mark.parametrize(
    ("fraction", "titles_after"),
    [
        (".5", ["new", "archived"]),  # JavaScript's toISOString: 3 digits; here 1
        (".000", ["changed", "archived", "new"]),
        (".000000", ["changed", "archived", "new"]),
        (".000000001", ["changed", "archived", "new"]),  # Go, .NET: up to 9; the same microsecond
        (".0000009999999", ["changed", "archived", "new"]),
        (".000001", ["archived", "new"]),
    ],
)
def test_a_second_s_fraction_may_have_any_number_of_digits(api, timeline, fraction, titles_after):
    after = api.get(
        GOALS, {"updated_after": f"2026-03-10T12:00:00{fraction}Z", "ordering": "updated_at"}
    )
    assert sorted(titles(after)) == sorted(titles_after)
    before = api.get(GOALS, {"updated_before": f"2026-03-02T12:00:00{fraction}z"})
    assert titles(before) == ["old"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2026-03-10T12:00:00", "The timestamp has no zone"),
        ("2026-03-10", "Enter an RFC 3339 timestamp"),
        ("yesterday", "Enter an RFC 3339 timestamp"),
        ("2026-02-30T12:00:00Z", "Enter an RFC 3339 timestamp"),
        ("2026-03-10T12:00:00 02:00", "send a '+' of the zone as %2B"),
        ("0000-01-01T00:00:00Z", "Enter an RFC 3339 timestamp"),
        ("2026-03-10T12:00:00+24:00", "Enter an RFC 3339 timestamp"),
    ],
)
@pytest.mark.parametrize("name", ["updated_after", "updated_before", "created_after"])
def test_a_naive_or_malformed_timestamp_is_422_naming_it(api, alice, name, value, message):
    response = api.get(GOALS, {name: value})
    assert response.status_code == 422
    (error,) = response.json()["errors"][name]
    assert message in error


@pytest.mark.parametrize(
    ("lower", "upper", "low", "high"),
    [
        ("updated_after", "updated_before", "2026-03-10T00:00:00Z", "2026-03-09T00:00:00Z"),
        ("created_after", "created_before", "2026-03-10T00:00:00Z", "2026-03-09T23:59:59Z"),
        ("target_date_after", "target_date_before", "2026-06-02", "2026-06-01"),
    ],
)
def test_a_lower_bound_after_its_upper_bound_is_422(api, alice, lower, upper, low, high):
    response = api.get(GOALS, {lower: low, upper: high})
    assert response.status_code == 422
    assert response.json()["errors"] == {lower: [f"Must not be later than {upper}."]}


def test_deadlines_between_two_days(api, alice):
    for title, day in [("may", "2026-05-31"), ("june", "2026-06-01"), ("july", "2026-07-01")]:
        GoalFactory(user=alice, title=title, target_date=dt.date.fromisoformat(day))
    GoalFactory(user=alice, title="no date")
    window = {"target_date_after": "2026-06-01", "target_date_before": "2026-07-01"}
    assert titles(api.get(GOALS, {**window, "ordering": "target_date"})) == ["june", "july"]
    response = api.get(GOALS, {"target_date_after": "2026-6-1"})
    assert response.status_code == 422
    assert "target_date_after" in response.json()["errors"]


# --- Search -------------------------------------------------------------------------------------


@pytest.fixture
def searchable(alice):
    GoalFactory(user=alice, title="Open a Café in Zürich", description="Espresso first")
    GoalFactory(user=alice, title="Run a half marathon", description="Build up to 21 km")
    GoalFactory(user=alice, title="Learn the cello", description="Join a café orchestra")
    GoalFactory(user=alice, title="Archived café", description=None, status="archived")
    GoalFactory(user=UserFactory(), title="Someone else's café")


@pytest.mark.parametrize(
    ("typed", "found"),
    [
        ("cafe", {"Open a Café in Zürich", "Learn the cello"}),  # accents and descriptions
        ("CAFÉ", {"Open a Café in Zürich", "Learn the cello"}),
        ("caf", {"Open a Café in Zürich", "Learn the cello"}),  # as the person types
        ("zurich espresso", {"Open a Café in Zürich"}),  # every word must match
        ("half   MARATHON!", {"Run a half marathon"}),
        ("marathon cello", set()),
        ("violin", set()),
        ("!!!", set()),  # no word at all matches nothing
        ("o'brien \\ back", set()),  # quotes and backslashes are words, not tsquery syntax
    ],
)
def test_q_finds_words_case_and_accent_insensitively(api, searchable, typed, found):
    assert set(titles(api.get(GOALS, {"q": typed}))) == found


def test_q_with_status_finds_archived_goals_too(api, searchable):
    assert titles(api.get(GOALS, {"q": "cafe", "status": "archived"})) == ["Archived café"]


def test_q_never_finds_another_users_goals(bob_api, bob, searchable):
    assert titles(bob_api.get(GOALS, {"q": "cafe"})) == []


@pytest.mark.parametrize(
    ("typed", "message"),
    [("x" * 201, "at most 200 characters"), ("nul\x00byte", "Null characters are not allowed")],
)
def test_q_over_200_characters_or_with_nul_is_422(api, alice, typed, message):
    response = api.get(GOALS, {"q": typed})
    assert response.status_code == 422
    (error,) = response.json()["errors"]["q"]
    assert message in error


def test_a_search_costs_one_query(api, alice, searchable, django_assert_num_queries):
    api.get(GOALS)  # the account is known
    with django_assert_num_queries(1):
        assert len(titles(api.get(GOALS, {"q": "cafe"}))) == 2


def test_search_reads_the_owners_index_range_and_works_out_the_query_once(alice, searchable):
    """Never another user's rows or index entries: the rows come from the owner's index range,
    tested against their stored words; the typed words become a tsquery once (an InitPlan)."""
    from goals.search import matching

    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")  # a tiny table: plan as at a million rows
        sql, params = Goal.objects.owned_by(alice).filter(matching("cafe")).query.sql_with_params()
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("RESET enable_seqscan")
    assert "Seq Scan" not in plan
    assert "idx_goals_user_" in plan
    assert "InitPlan" in plan
    assert "gin" not in plan.lower()


# --- Paging links and ordering -------------------------------------------------------------------


def links(response) -> dict[str, str]:
    parsed = {}
    for part in response["Link"].split(", "):
        url, rel = part.split("; ")
        parsed[rel.removeprefix('rel="').removesuffix('"')] = url.strip("<>")
    return parsed


def test_the_link_header_pages_through_the_list_keeping_every_parameter(api, alice):
    GoalFactory.create_batch(5, user=alice, goal_type="abstract")
    GoalFactory(user=alice, goal_type="concrete")
    middle = api.get(GOALS, {"goal_type": "abstract", "page_size": 2, "page": 2, "x": "kept"})
    found = links(middle)
    assert set(found) == {"first", "prev", "next", "last"}
    assert found["next"] == middle.json()["next"]
    assert found["prev"] == middle.json()["previous"]
    for url in found.values():
        assert "goal_type=abstract" in url
        assert "page_size=2" in url
        assert "x=kept" in url
    assert "page=" not in found["first"]
    assert "page=3" in found["last"]
    last = api.get(found["last"])
    assert set(links(last)) == {"first", "prev", "last"}
    assert len(last.json()["goals"]) == 1


def test_a_single_page_links_only_first_and_last(api, alice):
    GoalFactory(user=alice)
    found = links(api.get(GOALS))
    assert set(found) == {"first", "last"}
    assert found["first"] == found["last"] == "http://testserver/api/v1/goals"


@pytest.mark.parametrize(("goals", "last_page"), [(5, 3), (0, 1)])
def test_past_the_end_prev_is_the_last_page_there_is(api, alice, goals, last_page):
    GoalFactory.create_batch(goals, user=alice)
    response = api.get(GOALS, {"page_size": 2, "page": 99})
    assert response.json()["goals"] == []
    found = links(response)
    assert found["prev"] == found["last"] == response.json()["previous"]
    assert (
        ("page=" not in found["prev"]) if last_page == 1 else (f"page={last_page}" in found["prev"])
    )
    assert "page=98" not in found["prev"]


def test_cursor_pages_link_to_the_first_and_last_page_numbers(api, alice):
    GoalFactory.create_batch(5, user=alice)
    cursor = api.get(GOALS, {"page_size": 2}).json()["next_cursor"]
    found = links(api.get(GOALS, {"page_size": 2, "cursor": cursor}))
    assert set(found) == {"first", "next", "last"}
    assert "cursor=" in found["next"]
    assert "cursor=" not in found["first"]
    assert "cursor=" not in found["last"]
    assert "page=3" in found["last"]


def test_ordering_by_several_keys_in_both_spellings(api, alice):
    for title, day in [("b", "2026-01-02"), ("a", "2026-01-03"), ("a", "2026-01-01"), ("c", None)]:
        GoalFactory(user=alice, title=title, target_date=day and dt.date.fromisoformat(day))

    def order(query: str) -> list[tuple]:
        response = api.get(f"{GOALS}?{query}")
        assert response.status_code == 200, response.json()
        return [(goal["title"], goal["target_date"]) for goal in response.json()["goals"]]

    expected = [("a", "2026-01-03"), ("a", "2026-01-01"), ("b", "2026-01-02"), ("c", None)]
    assert order("ordering=title,-target_date") == expected
    assert order("ordering=title&ordering=-target_date") == expected
    assert order("ordering=-target_date&ordering=title") == order("ordering=-target_date,title")


def test_a_cursor_with_the_default_ordering_repeated_is_fine(api, alice):
    GoalFactory.create_batch(3, user=alice)
    cursor = api.get(GOALS, {"page_size": 1}).json()["next_cursor"]
    ok = api.get(f"{GOALS}?cursor={cursor}&ordering=-created_at&page_size=1")
    assert ok.status_code == 200
    refused = api.get(f"{GOALS}?cursor={cursor}&ordering=-created_at&ordering=title")
    assert refused.status_code == 422
    assert "cursor" in refused.json()["errors"]


def test_unknown_ids_in_idempotent_replays_are_never_guessed():
    """A replayed answer is the stored one, even for a goal deleted since (it was the answer)."""
    user = UserFactory()
    from tests.conftest import client_for

    client = client_for(user)
    first = post(client, key="gone")
    Goal.objects.filter(pk=uuid.UUID(first.json()["id"])).delete()
    again = post(client, key="gone")
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"


def test_one_422_names_every_bad_parameter_of_a_list(api, alice):
    """Paging parameters and filters are checked in two places; a client fixing its request
    learns every mistake at once, not one per round trip."""
    response = api.get(
        GOALS,
        {"page": 0, "page_size": 1000, "status": "bogus", "ordering": "nope", "x": "ignored"},
    )
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"page", "page_size", "status", "ordering"}
    cursor = api.get(GOALS, {"cursor": "not-a-cursor", "updated_after": "yesterday"})
    assert set(cursor.json()["errors"]) == {"cursor", "updated_after"}
    assert cursor.json()["errors"]["cursor"] == ["Invalid cursor."]

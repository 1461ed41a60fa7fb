"""The whole API through a client generated from docs/openapi.yaml, as a client author uses it.

openapi-python-client (a dev dependency) turns the committed document into a typed package
(httpx + attrs); every answer below is parsed by the generated models, which read every field the
schema calls required, so a schema that promises what the API does not send fails here.
"""

import datetime as dt
import importlib
import re
import subprocess
import sys
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.factories import UserFactory
from tests.limits import service_limit
from tests.tokens import make_token

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "delight_goals_client"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """The client package, generated from the committed document into a temporary directory."""
    out = tmp_path_factory.mktemp("client")
    config = out / "config.yaml"
    config.write_text(f"package_name_override: {PACKAGE}\npost_hooks: []\n")
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "openapi-python-client"),
            "generate",
            "--path",
            str(ROOT / "docs" / "openapi.yaml"),
            "--output-path",
            str(out / PACKAGE),
            "--meta",
            "none",
            "--config",
            str(config),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Warning" not in result.stdout + result.stderr, result.stdout + result.stderr
    sys.path.insert(0, str(out))
    try:
        package = importlib.import_module(PACKAGE)
        operations = (
            *("list_goals", "create_goal", "get_goal", "update_goal", "archive_goal"),
            *("list_goal_history", "list_all_goal_history", "get_goal_insights"),
        )
        api = SimpleNamespace(
            **{name: importlib.import_module(f"{PACKAGE}.api.goals.{name}") for name in operations}
        )
        models = importlib.import_module(f"{PACKAGE}.models")
        yield package, api, models
    finally:
        sys.path.remove(str(out))
        for name in [name for name in sys.modules if name.startswith(PACKAGE)]:
            del sys.modules[name]


@pytest.fixture
def client(generated, live_server):
    package, _, _ = generated
    UserFactory(clerk_user_id="user_generated")
    token = make_token("user_generated", exp=int(dt.datetime.now().timestamp()) + 600)
    # Closed at the end: a kept-alive connection would keep a live-server thread, and its
    # database session, past the test.
    with package.AuthenticatedClient(base_url=live_server.url, token=token) as authenticated:
        yield authenticated


def _links(response) -> dict[str, str]:
    return {
        rel: url for url, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', response.headers["Link"])
    }


def test_the_whole_journey_through_the_generated_client(generated, client, live_server, settings):
    package, api, models = generated
    list_goals, create_goal, get_goal = api.list_goals, api.create_goal, api.get_goal
    update_goal, archive_goal = api.update_goal, api.archive_goal

    # Create with an Idempotency-Key, then the retry a flaky network makes.
    body = models.GoalRequest(
        title="Run a half marathon",
        goal_type=models.GoalTypeEnum.CONCRETE,
        value_category=models.ValueCategoryEnum.HEALTH,
        target_date=dt.date(2027, 6, 15),
        description="Build up to 21 km",
    )
    key = str(uuid.uuid4())
    created = create_goal.sync_detailed(client=client, body=body, idempotency_key=key)
    assert created.status_code == 201
    goal = created.parsed
    assert isinstance(goal, models.Goal)
    assert goal.status == models.GoalStatusEnum.ACTIVE
    assert goal.user_id == "user_generated"
    assert created.headers["Location"] == f"/api/v1/goals/{goal.id}"
    retried = create_goal.sync_detailed(client=client, body=body, idempotency_key=key)
    assert retried.status_code == 201
    assert retried.headers["Idempotent-Replayed"] == "true"
    assert retried.parsed.id == goal.id
    other = create_goal.sync_detailed(
        client=client,
        body=models.GoalRequest(
            title="Learn the cello",
            goal_type=models.GoalTypeEnum.ABSTRACT,
            value_category=models.ValueCategoryEnum.CRAFT,
        ),
    )
    assert other.status_code == 201
    assert other.parsed.description is None  # nullable, and present
    for number in range(3):
        create_goal.sync(
            client=client,
            body=models.GoalRequest(
                title=f"Filler {number}",
                goal_type=models.GoalTypeEnum.ABSTRACT,
                value_category=models.ValueCategoryEnum.GROWTH,
            ),
        )

    # Lists with filters and ordering (an array: the generated client's spelling).
    listed = list_goals.sync_detailed(
        client=client,
        goal_type=models.ListGoalsGoalType.CONCRETE,
        ordering=[models.ListGoalsOrderingItem.TITLE, models.ListGoalsOrderingItem.VALUE_1],
    )
    assert listed.status_code == 200
    assert [g.title for g in listed.parsed.goals] == ["Run a half marathon"]
    by_title = list_goals.sync(
        client=client, ordering=[models.ListGoalsOrderingItem.TITLE], page_size=2
    )
    assert [g.title for g in by_title.goals] == ["Filler 0", "Filler 1"]

    # Search, as typed.
    found = list_goals.sync(client=client, q="marat")
    assert [g.title for g in found.goals] == ["Run a half marathon"]

    # Paging by the Link header.
    first = list_goals.sync_detailed(client=client, page_size=2)
    assert first.parsed.total == 5
    seen = [g.id for g in first.parsed.goals]
    links = _links(first)
    while "next" in links:
        page = int(re.search(r"[?&]page=(\d+)", links["next"])[1])
        following = list_goals.sync_detailed(client=client, page_size=2, page=page)
        seen += [g.id for g in following.parsed.goals]
        links = _links(following)
    assert len(seen) == len(set(seen)) == 5

    # Get with its ETag, then a conditional get.
    fetched = get_goal.sync_detailed(client=client, id=goal.id)
    etag = fetched.headers["ETag"]
    assert fetched.parsed.title == "Run a half marathon"
    assert get_goal.sync_detailed(client=client, id=goal.id, if_none_match=etag).status_code == 304

    # Patch with If-Match; the stale version is then 412.
    paused = update_goal.sync_detailed(
        client=client,
        id=goal.id,
        body=models.PatchedGoalRequest(status=models.GoalStatusEnum.PAUSED),
        if_match=etag,
    )
    assert paused.status_code == 200
    assert paused.parsed.status == models.GoalStatusEnum.PAUSED
    stale = update_goal.sync_detailed(
        client=client,
        id=goal.id,
        body=models.PatchedGoalRequest(title="Too late"),
        if_match=etag,
    )
    assert stale.status_code == 412
    assert isinstance(stale.parsed, models.ErrorDetail)

    # Archive, sync (archived goals included), restore.
    since = paused.parsed.updated_at
    archived = archive_goal.sync_detailed(client=client, id=goal.id)
    assert archived.parsed.status == models.GoalStatusEnum.ARCHIVED
    assert goal.id not in [g.id for g in list_goals.sync(client=client).goals]
    synced = list_goals.sync(
        client=client, updated_after=since, ordering=[models.ListGoalsOrderingItem.UPDATED_AT]
    )
    assert [(g.id, g.status) for g in synced.goals] == [(goal.id, models.GoalStatusEnum.ARCHIVED)]
    restored = update_goal.sync(
        client=client,
        id=goal.id,
        body=models.PatchedGoalRequest(status=models.GoalStatusEnum.ACTIVE),
    )
    assert restored.status == models.GoalStatusEnum.ACTIVE

    # Every error, parsed by its declared model.
    with package.Client(base_url=live_server.url) as anonymous:
        unauthorized = list_goals.sync_detailed(client=anonymous)
    assert unauthorized.status_code == 401
    assert unauthorized.headers["WWW-Authenticate"].startswith("Bearer")
    assert isinstance(unauthorized.parsed, models.ErrorDetail)
    missing = get_goal.sync_detailed(client=client, id=uuid.uuid4())
    assert (missing.status_code, missing.parsed.detail) == (404, "Not found.")
    invalid = create_goal.sync_detailed(
        client=client,
        body=models.GoalRequest(
            title="   ",
            goal_type=models.GoalTypeEnum.ABSTRACT,
            value_category=models.ValueCategoryEnum.CRAFT,
        ),
    )
    assert invalid.status_code == 422
    assert isinstance(invalid.parsed, models.ValidationError)
    assert "title" in invalid.parsed.errors.additional_properties
    reused = create_goal.sync_detailed(
        client=client, body=invalid_body(models), idempotency_key=key
    )
    assert reused.status_code == 422
    assert "Idempotency-Key" in reused.parsed.errors.additional_properties
    naive = list_goals.sync_detailed(client=client, updated_after=dt.datetime(2026, 1, 1))
    assert naive.status_code == 422
    assert "updated_after" in naive.parsed.errors.additional_properties
    # A client of its own: the generated with_headers() also changes the httpx client it shares.
    with package.AuthenticatedClient(
        base_url=live_server.url, token=client.token, headers={"Accept": "application/xml"}
    ) as xml:
        not_acceptable = list_goals.sync_detailed(client=xml)
    assert not_acceptable.status_code == 406
    assert isinstance(not_acceptable.parsed, models.ErrorDetail)

    # The five goals it holds; over a new HTTP connection, served with a new database connection
    # (the limit is set as a connection opens).
    with (
        service_limit(5),
        package.AuthenticatedClient(base_url=live_server.url, token=client.token) as fresh,
    ):
        full = create_goal.sync_detailed(client=fresh, body=body)
    assert full.status_code == 409
    assert "at most 5 goals" in full.parsed.detail

    settings.RATE_LIMIT_USER_PER_MINUTE = 1
    throttled = list_goals.sync_detailed(client=client)
    assert throttled.status_code == 429
    assert int(throttled.headers["Retry-After"]) >= 1
    assert isinstance(throttled.parsed, models.ErrorDetail)


def invalid_body(models):
    """Another body for a key already used: a different title."""
    return models.GoalRequest(
        title="Not the first body",
        goal_type=models.GoalTypeEnum.CONCRETE,
        value_category=models.ValueCategoryEnum.HEALTH,
    )


def test_history_and_insights_through_the_generated_client(generated, client):
    """A goal's past and the insights, parsed by the generated models (every field required)."""
    _, api, models = generated
    goal = api.create_goal.sync(
        client=client,
        body=models.GoalRequest(
            title="Learn the cello",
            goal_type=models.GoalTypeEnum.ABSTRACT,
            value_category=models.ValueCategoryEnum.CRAFT,
            target_date=dt.date(2027, 6, 15),
        ),
    )
    for status in (models.GoalStatusEnum.PAUSED, models.GoalStatusEnum.COMPLETED):
        api.update_goal.sync(
            client=client, id=goal.id, body=models.PatchedGoalRequest(status=status)
        )

    page = api.list_goal_history.sync(client=client, id=goal.id, page_size=2)
    assert isinstance(page, models.GoalHistoryPage)
    assert [event.action for event in page.results] == [models.ActionEnum.UPDATED] * 2
    assert page.results[0].actor == models.ActorEnum.USER
    change = page.results[0].changes.additional_properties["status"]
    assert (change.from_, change.to) == ("paused", "completed")
    rest = api.list_goal_history.sync(client=client, id=goal.id, cursor=page.next_cursor)
    assert [event.action for event in rest.results] == [models.ActionEnum.CREATED]
    assert rest.next_cursor is None
    created = rest.results[0].changes.additional_properties
    assert (created["target_date"].from_, created["target_date"].to) == (None, "2027-06-15")

    everything = api.list_all_goal_history.sync(
        client=client,
        value_category=models.ListAllGoalHistoryValueCategory.CRAFT,
        occurred_after=page.results[-1].occurred_at,
    )
    assert [event.id for event in everything.results] == [event.id for event in page.results]

    insights = api.get_goal_insights.sync(client=client, tz="Europe/Paris")
    assert isinstance(insights, models.Insights)
    assert insights.by_value_category.craft.completed == 1
    assert insights.by_goal_type.abstract.completion_rate == 1.0
    assert insights.by_goal_type.concrete.completion_rate is None
    assert (insights.completed.count, insights.completed.on_time) == (1, 1)

    missing = api.list_goal_history.sync_detailed(client=client, id=uuid.uuid4())
    assert (missing.status_code, missing.parsed.detail) == (404, "Not found.")
    bad = api.get_goal_insights.sync_detailed(client=client, tz="Mars/Olympus_Mons")
    assert bad.status_code == 422
    assert "tz" in bad.parsed.errors.additional_properties

"""docs/API-TESTING-GUIDE.md is written from real responses, and this test replays it.

Every example below is sent to the real application (real tokens, real database); the guide shows
the curl line and the response. The check compares the guide with a fresh run, with ids,
timestamps and tokens masked (they change every run). `make guide` rewrites the file.
"""

import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from tests.tokens import make_token

pytestmark = pytest.mark.django_db

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "API-TESTING-GUIDE.md"
BASE = "http://127.0.0.1:8000"
SHOWN_HEADERS = (
    "Location",
    "ETag",
    "Idempotent-Replayed",
    "Link",
    "WWW-Authenticate",
    "Allow",
    "Retry-After",
)

INTRO = """# API testing guide

Every request below was sent to the real service and every response is what it answered: the
file is written by `tests/goals/test_api_guide.py` (`make guide`), and `make test` fails when the
service stops answering as shown (ids, timestamps and tokens aside).

## Setup

`make run` prints a development token and a ready-to-paste curl line. Put the token in a variable:

```sh
export TOKEN=<the token make run printed>
# a second user, for the isolation examples (DJANGO_DEBUG=1 as make run has it: with
# DATABASE_URL set and DEBUG off, manage.py asks for a secret key and prints no token):
export OTHER_TOKEN=$(DJANGO_DEBUG=1 .venv/bin/python manage.py dev_token user_other)
```

Tokens live for an hour by default (`dev_token <user_id> --ttl SECONDS`). With a real Clerk
instance, use a session token from your frontend (`await getToken()`) instead.
"""


@dataclass
class Example:
    title: str
    method: str
    path: str
    body: object = None
    token: str | None = "TOKEN"
    raw_body: str | None = None
    content_type: str = "application/json"
    note: str = ""
    headers: dict = field(default_factory=dict)


def scenarios() -> list[tuple[str, list[Example]]]:
    goal = "/api/v1/goals/{goal}"  # the first goal created below
    return [
        (
            "Create a goal",
            [
                Example(
                    "The story's example (AC2): 201, the goal, and its Location",
                    "POST",
                    "/api/v1/goals",
                    {
                        "title": "Graduate early from Georgia Tech",
                        "description": "Complete my CS degree by May 2026 instead of December 2026",
                        "goal_type": "concrete",
                        "value_category": "growth",
                        "target_date": "2026-05-15",
                    },
                ),
                Example(
                    "Only the required fields; the title is trimmed",
                    "POST",
                    "/api/v1/goals/",
                    {
                        "title": "  Be more confident  ",
                        "goal_type": "abstract",
                        "value_category": "connection",
                    },
                    note="The trailing slash is optional on every route.",
                ),
            ],
        ),
        (
            "Read goals",
            [
                Example("My goals, newest first (AC3)", "GET", "/api/v1/goals"),
                Example("One goal (AC4)", "GET", goal),
                Example("Filter by status", "GET", "/api/v1/goals?status=active"),
                Example(
                    "Filter by type and value category",
                    "GET",
                    "/api/v1/goals?goal_type=abstract&value_category=connection",
                ),
                Example(
                    "Order by title, one per page",
                    "GET",
                    "/api/v1/goals?ordering=title&page_size=1",
                ),
                Example(
                    "A page past the end: empty, with the true total",
                    "GET",
                    "/api/v1/goals?page=99",
                ),
            ],
        ),
        (
            "Update a goal",
            [
                Example(
                    "The story's example (AC5): only the keys given change",
                    "PATCH",
                    goal,
                    {
                        "status": "paused",
                        "description": "Pausing temporarily due to internship commitments",
                    },
                ),
                Example("An empty body changes nothing", "PATCH", goal, {}),
                Example(
                    "With If-Match naming a version that is no longer current: 412, nothing changes",
                    "PATCH",
                    goal,
                    {"title": "Lost update?"},
                    headers={"HTTP_IF_MATCH": '"1732000000000000"'},
                    note="Send the `ETag` of your last read as `If-Match`; without the header the "
                    "last writer wins.",
                ),
            ],
        ),
        (
            "Archive and restore",
            [
                Example("Archive (AC6): a soft delete, answered with the goal", "DELETE", goal),
                Example("Archiving again changes nothing", "DELETE", goal),
                Example(
                    "Archived goals are listed only when asked for",
                    "GET",
                    "/api/v1/goals?status=archived",
                ),
                Example("Restore by setting another status", "PATCH", goal, {"status": "active"}),
            ],
        ),
        (
            "For clients that retry, sync and search",
            [
                Example(
                    "Create with an Idempotency-Key: 201, and the answer is kept for 24 hours",
                    "POST",
                    "/api/v1/goals",
                    {
                        "title": "Ouvrir un Café à Zürich",
                        "goal_type": "concrete",
                        "value_category": "craft",
                    },
                    headers={"HTTP_IDEMPOTENCY_KEY": "0b6a4f3e-9c1d-4d8e-a2b7-5f0c3e1a9d42"},
                    note="Send a new key (a UUID) with every create; resend the same key with "
                    "the same body when you do not know whether the first attempt arrived.",
                ),
                Example(
                    "The retry: the same answer, Idempotent-Replayed, no second goal",
                    "POST",
                    "/api/v1/goals",
                    {
                        "title": "Ouvrir un Café à Zürich",
                        "goal_type": "concrete",
                        "value_category": "craft",
                    },
                    headers={"HTTP_IDEMPOTENCY_KEY": "0b6a4f3e-9c1d-4d8e-a2b7-5f0c3e1a9d42"},
                ),
                Example(
                    "The same key with another body: 422",
                    "POST",
                    "/api/v1/goals",
                    {"title": "Something else", "goal_type": "concrete", "value_category": "craft"},
                    headers={"HTTP_IDEMPOTENCY_KEY": "0b6a4f3e-9c1d-4d8e-a2b7-5f0c3e1a9d42"},
                ),
                Example(
                    "Search: words of the title or description, accents and case aside, as typed",
                    "GET",
                    "/api/v1/goals?q=cafe%20zur",
                ),
                Example(
                    "Incremental sync: what changed since the last sync, archived goals included",
                    "GET",
                    "/api/v1/goals?updated_after=2026-01-01T00:00:00Z&ordering=updated_at&page_size=2",
                    note="Keep the newest `updated_at` you received and send it as "
                    "`updated_after` next time (bounds are inclusive: the goal at the bound comes "
                    "again; key your cache by `id`). The `Link` header pages through the rest.",
                ),
                Example(
                    "A timestamp without a zone: 422",
                    "GET",
                    "/api/v1/goals?updated_after=2026-01-01T00:00:00",
                ),
                Example(
                    "Deadlines in a window",
                    "GET",
                    "/api/v1/goals?target_date_after=2026-01-01&target_date_before=2026-12-31",
                ),
                Example(
                    "An ordering key that is not one: 422, whichever the spelling",
                    "GET",
                    "/api/v1/goals?ordering=goal_type&ordering=-created_at&page_size=2",
                ),
                Example(
                    "Several ordering keys, the parameter repeated (what generated clients send)",
                    "GET",
                    "/api/v1/goals?ordering=-target_date&ordering=title&page_size=2",
                    note="`ordering=-target_date,title` is the same.",
                ),
            ],
        ),
        (
            "A goal's past: history and insights",
            [
                Example(
                    "A goal's history: every change, newest first, each field before and after",
                    "GET",
                    f"{goal}/history",
                    note="One event per write that changed the goal, whoever made it: `user` "
                    "(you, through the API), `staff` (the admin) or `system` (anything else). "
                    "The empty PATCH and the second archive above changed nothing: no event.",
                ),
                Example(
                    "A page at a time: follow next_cursor",
                    "GET",
                    f"{goal}/history?page_size=2",
                    note="Send `next_cursor` back as `?cursor=` for the next page; it is null on "
                    "the last one.",
                ),
                Example(
                    "The history of all my goals, filtered by the goals' current category",
                    "GET",
                    "/api/v1/goals/history?value_category=connection",
                    note="Also `goal_type`, and `occurred_after` / `occurred_before` (RFC 3339 "
                    "with a zone, inclusive), as the list's timestamps.",
                ),
                Example(
                    "Insights: my goals summed up, today in my time zone",
                    "GET",
                    "/api/v1/goals/insights?tz=Europe/Paris",
                    note="Every category, type and status appears, zeros included. "
                    "`completion_rate` leaves archived goals out (null when nothing counts); a "
                    "completed goal's completion time is when its status last became "
                    "`completed`, from its history.",
                ),
                Example(
                    "An unknown time zone: 422",
                    "GET",
                    "/api/v1/goals/insights?tz=Mars/Olympus_Mons",
                ),
                Example(
                    "Another user's goal has no history for you: 404",
                    "GET",
                    f"{goal}/history",
                    token="OTHER_TOKEN",
                ),
            ],
        ),
        (
            "Errors",
            [
                Example(
                    "Missing required fields: 422",
                    "POST",
                    "/api/v1/goals",
                    {"description": "No title provided"},
                ),
                Example(
                    "Invalid goal_type: 422",
                    "POST",
                    "/api/v1/goals",
                    {"title": "Test", "goal_type": "invalid", "value_category": "health"},
                ),
                Example(
                    "Read-only and unknown keys: 422",
                    "PATCH",
                    goal,
                    {
                        "user_id": "user_someone_else",
                        "created_at": "2020-01-01T00:00:00Z",
                        "colour": "red",
                    },
                ),
                Example("Invalid dates: 422", "PATCH", goal, {"target_date": "2026-02-30"}),
                Example("Invalid list parameters: 422", "GET", "/api/v1/goals?status=done&page=0"),
                Example("Invalid ordering: 422", "GET", "/api/v1/goals?ordering=owner"),
                Example("Unparseable JSON: 400", "POST", "/api/v1/goals", raw_body='{"title": '),
                Example(
                    "Not JSON: 415",
                    "POST",
                    "/api/v1/goals",
                    raw_body="title=Run",
                    content_type="application/x-www-form-urlencoded",
                ),
                Example(
                    "No such goal: 404", "GET", "/api/v1/goals/00000000-0000-0000-0000-000000000000"
                ),
                Example("A malformed id: 404", "GET", "/api/v1/goals/not-a-uuid"),
                Example(
                    "Another user's goal: 404, never 403 (AC8)",
                    "GET",
                    goal,
                    token="OTHER_TOKEN",
                ),
                Example("No credentials: 401 (AC8)", "GET", "/api/v1/goals", token=None),
                Example("An invalid token: 401", "GET", "/api/v1/goals", token="invalid_token"),
                Example("An expired token: 401", "GET", "/api/v1/goals", token="EXPIRED_TOKEN"),
                Example("PUT is not supported: 405", "PUT", goal, {"title": "x"}),
            ],
        ),
    ]


def tokens() -> dict:
    past = int(time.time()) - 3600
    return {
        "TOKEN": make_token("user_dev"),
        "OTHER_TOKEN": make_token("user_other"),
        "EXPIRED_TOKEN": make_token("user_dev", exp=past, iat=past - 60, nbf=past - 60),
    }


def curl(example: Example, path: str) -> str:
    parts = ["curl -i"]
    if example.method != "GET":
        parts.append(f"-X {example.method}")
    if example.token in {"TOKEN", "OTHER_TOKEN"}:
        parts.append(f'-H "Authorization: Bearer ${example.token}"')
    elif example.token == "EXPIRED_TOKEN":
        parts.append('-H "Authorization: Bearer <a token whose exp has passed>"')
    elif example.token is not None:
        parts.append(f'-H "Authorization: Bearer {example.token}"')
    for name, value in example.headers.items():
        parts.append(f"-H '{name[5:].replace('_', '-').title()}: {value}'")
    if example.body is not None or example.raw_body is not None:
        data = example.raw_body if example.raw_body is not None else json.dumps(example.body)
        parts.append(f'-H "Content-Type: {example.content_type}"')
        parts.append(f"-d '{data}'")
    parts.append(f'"{BASE}{path}"')
    return " \\\n  ".join(parts)


def send(example: Example, path: str, secrets: dict):
    client = APIClient(HTTP_HOST="127.0.0.1:8000")  # the README's address
    if example.token is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secrets.get(example.token, example.token)}")
    data = (
        example.raw_body
        if example.raw_body is not None
        else (json.dumps(example.body) if example.body is not None else None)
    )
    kwargs = {"content_type": example.content_type} if data is not None else {}
    return getattr(client, example.method.lower())(path, data, **kwargs, **example.headers)


def render() -> str:
    secrets = tokens()
    ids: dict = {}
    out = [INTRO]
    for section, examples in scenarios():
        out.append(f"## {section}\n")
        for example in examples:
            path = example.path.replace("{goal}", ids.get("goal", ""))
            response = send(example, path, secrets)
            body = response.json()
            if example.method == "POST" and response.status_code == 201 and "goal" not in ids:
                ids["goal"] = body["id"]
            out.append(f"### {example.title}\n")
            if example.note:
                out.append(f"{example.note}\n")
            out.append(f"```sh\n{curl(example, path)}\n```\n")
            head = [f"HTTP/1.1 {response.status_code} {response.reason_phrase}"]
            head += [
                f"{name}: {response[name]}" for name in SHOWN_HEADERS if response.has_header(name)
            ]
            head.append(f"Content-Type: {response['Content-Type']}")
            out.append(
                "```http\n"
                + "\n".join(head)
                + "\n\n"
                + json.dumps(body, indent=2, ensure_ascii=False)
                + "\n```\n"
            )
    return "\n".join(out)


MASKS = [
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<uuid>"),
    (re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z"), "<timestamp>"),
    (re.compile(r'ETag: "\d+"'), "ETag: <version>"),
    (re.compile(r'"next_cursor": "[A-Za-z0-9_-]+"'), '"next_cursor": "<cursor>"'),
    (re.compile(r'"today": "\d{4}-\d{2}-\d{2}"'), '"today": "<day>"'),
]


def masked(text: str) -> str:
    for pattern, replacement in MASKS:
        text = pattern.sub(replacement, text)
    return text


def test_api_guide_matches_the_service():
    text = render()
    if os.environ.get("GUIDE_WRITE") == "1":
        GUIDE.write_text(text)
    assert masked(GUIDE.read_text()) == masked(text), "the service changed: run `make guide`"

"""The browsable API offers what a person can send as it stands (issue 15): the raw-data forms, the
descriptions, the DELETE dialog and the 401 page, read from the HTML a browser gets. The same
journeys run in Chromium in tests/browser/test_browsable_api.py."""

import html
import json
import re

import pytest
from rest_framework import serializers

from delight.browsable import placeholder, text_to_html
from goals.models import Goal
from tests.factories import GoalFactory

pytestmark = pytest.mark.django_db

BROWSER = {"HTTP_ACCEPT": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
WRITABLE = ["title", "description", "goal_type", "value_category", "target_date", "status"]


def raw_form(page: str, form_id: str) -> dict:
    """The JSON a raw-data form offers (the textarea of ``#post-`` or ``#put-generic-content-form``)."""
    section = page[page.index(f'id="{form_id}"') :]
    content = re.search(r"<textarea[^>]*>(.*?)</textarea>", section, re.S)[1]
    return json.loads(html.unescape(content))


def post_form(page: str) -> dict:
    return raw_form(page, "post-generic-content-form")


def patch_form(page: str) -> dict:
    return raw_form(page, "put-generic-content-form")


@pytest.fixture
def own_goal(admin_user):
    return GoalFactory(user=admin_user, title="Run a half marathon", description=None)


def test_the_post_form_offers_every_writable_field_with_a_value_it_accepts(admin_client):
    page = admin_client.get("/api/v1/goals", **BROWSER).content.decode()
    offered = post_form(page)
    assert offered == {
        "title": "",
        "description": None,
        "goal_type": "abstract",
        "value_category": "health",
        "target_date": None,
        "status": "active",
    }
    # As offered, only the title is missing; filled in, the template is a goal.
    as_offered = admin_client.post("/api/v1/goals", offered, content_type="application/json")
    assert as_offered.status_code == 422
    assert set(as_offered.json()["errors"]) == {"title"}
    created = admin_client.post(
        "/api/v1/goals", {**offered, "title": "Read 20 books"}, content_type="application/json"
    )
    assert created.status_code == 201, created.json()


def test_the_patch_form_offers_the_goals_current_writable_fields(admin_client, own_goal):
    page = admin_client.get(f"/api/v1/goals/{own_goal.pk}", **BROWSER).content.decode()
    offered = patch_form(page)
    assert list(offered) == WRITABLE
    assert offered["title"] == "Run a half marathon"
    assert offered["goal_type"] == own_goal.goal_type
    response = admin_client.patch(
        f"/api/v1/goals/{own_goal.pk}",
        {**offered, "status": "paused"},
        content_type="application/json",
    )
    assert response.status_code == 200, response.json()
    assert Goal.objects.get(pk=own_goal.pk).status == "paused"


def test_after_a_patch_the_form_holds_the_new_values(admin_client, own_goal):
    page = admin_client.patch(
        f"/api/v1/goals/{own_goal.pk}",
        {"status": "completed"},
        content_type="application/json",
        **BROWSER,
    ).content.decode()
    assert "HTTP 200 OK" in page
    offered = patch_form(page)
    assert list(offered) == WRITABLE
    assert offered["status"] == "completed"
    assert offered["title"] == "Run a half marathon"
    assert 'id="post-generic-content-form"' not in page


def test_after_a_failed_patch_the_form_holds_what_was_sent(admin_client, own_goal):
    sent = {"title": "Run a full marathon", "status": "gone"}
    page = admin_client.patch(
        f"/api/v1/goals/{own_goal.pk}", sent, content_type="application/json", **BROWSER
    ).content.decode()
    assert "HTTP 422 Unprocessable Entity" in page
    assert patch_form(page) == sent  # to correct, not the blank create template
    assert 'id="post-generic-content-form"' not in page


def test_after_an_unreadable_patch_the_form_holds_the_goal(admin_client, own_goal):
    page = admin_client.patch(
        f"/api/v1/goals/{own_goal.pk}", "{not json", content_type="application/json", **BROWSER
    ).content.decode()
    assert "HTTP 400 Bad Request" in page
    assert patch_form(page)["title"] == "Run a half marathon"


def test_after_a_failed_post_the_form_holds_what_was_sent(admin_client):
    sent = {"title": "", "goal_type": "concrete", "value_category": "craft"}
    page = admin_client.post(
        "/api/v1/goals", sent, content_type="application/json", **BROWSER
    ).content.decode()
    assert "HTTP 422 Unprocessable Entity" in page
    assert post_form(page) == sent


def test_a_missing_goal_offers_no_edit_form(admin_client):
    page = admin_client.get(
        "/api/v1/goals/00000000-0000-0000-0000-000000000000", **BROWSER
    ).content.decode()
    assert "HTTP 404 Not Found" in page
    assert 'id="put-generic-content-form"' not in page


def test_list_and_detail_each_have_their_own_description_in_markdown(admin_client, own_goal):
    listing = admin_client.get("/api/v1/goals", **BROWSER).content.decode()
    detail = admin_client.get(f"/api/v1/goals/{own_goal.pk}", **BROWSER).content.decode()
    for page in (listing, detail):
        assert "``" not in page  # no raw reStructuredText
    assert "<code>?status=archived</code>" in listing
    assert "<code>If-Match</code>" in detail
    assert "<strong>POST</strong> creates a goal" in listing
    assert "<strong>PATCH</strong> changes only the fields you send" in detail
    assert "PATCH changes only" not in listing
    assert "<h1>Goals</h1>" in listing
    assert "<h1>Goal</h1>" in detail
    assert '<a href="/docs">Swagger UI</a>' in listing
    assert 'data-target="#filtersModal"' in listing  # the Filters button the text names
    assert 'data-target="#filtersModal"' not in detail
    assert "Goal Instance" not in detail


def test_options_describes_the_view_in_plain_text(api):
    description = api.options("/api/v1/goals").json()["description"]
    assert description.startswith("Your goals, newest first")
    assert "<" not in description


def test_delete_is_labelled_as_archiving(admin_client, own_goal):
    page = admin_client.get(f"/api/v1/goals/{own_goal.pk}", **BROWSER).content.decode()
    assert "DELETE (archive)" in page
    assert "Archive this goal?" in page
    assert "restores it" in page
    assert "delete this" not in page.lower()
    archived = admin_client.delete(f"/api/v1/goals/{own_goal.pk}", **BROWSER)
    assert archived.status_code == 200
    assert Goal.objects.get(pk=own_goal.pk).status == "archived"


def test_the_401_page_explains_how_to_authenticate(client):
    response = client.get("/api/v1/goals", **BROWSER)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    page = response.content.decode()
    assert 'href="/api-auth/login/?next=/api/v1/goals"' in page
    assert "Authorization: Bearer &lt;Clerk session token&gt;" in page
    assert ".venv/bin/python manage.py dev_token &lt;user_id&gt;" in page
    assert 'id="post-generic-content-form"' not in page


def test_text_to_html_escapes_everything_but_its_markup():
    rendered = text_to_html(
        "A `<b>` and **bold** [docs](/docs) [out](https://example.com)\n\n<script>x</script>"
    )
    assert rendered == (
        '<p>A <code>&lt;b&gt;</code> and <strong>bold</strong> <a href="/docs">docs</a> '
        "[out](https://example.com)</p>\n<p>&lt;script&gt;x&lt;/script&gt;</p>"
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        (serializers.CharField(), ""),
        (serializers.CharField(required=False, allow_null=True), None),
        (serializers.CharField(default="x"), "x"),
        (serializers.ChoiceField(choices=["b", "a"]), "b"),
        (serializers.BooleanField(), False),
        (serializers.IntegerField(min_value=3), 3),
        (serializers.IntegerField(), 0),
        (serializers.DateField(), "today"),
    ],
)
def test_placeholders_are_values_their_fields_accept(field, value):
    offered = placeholder(field)
    if value == "today":
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", offered)
    else:
        assert offered == value
    if offered is not None:
        field.run_validation(offered if offered != "" else "filled")

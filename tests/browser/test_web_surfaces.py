"""The three web surfaces as people use them, in Chromium (issue 15): staff in the admin, a staff
member in the browsable API, a client author in Swagger UI and ReDoc. No page may fetch from
outside the server or log an error (tests/browser/conftest.py watches every page)."""

import datetime as dt
import json
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from goals.models import Goal
from tests.browser.conftest import log_in, screenshot
from tests.factories import GoalFactory, UserFactory
from tests.tokens import make_token

pytestmark = pytest.mark.django_db(transaction=True)  # the server is another process

LONG_TITLE = "Learn to play the cello well enough to join a community orchestra by next spring"
WRITABLE = ["title", "description", "goal_type", "value_category", "target_date", "status"]


def test_staff_work_through_the_admin(browser_page, staff):
    page, _ = browser_page
    today = timezone.localdate()
    maria = UserFactory(clerk_user_id="user_2maria", email="maria@example.com")
    sam = UserFactory(clerk_user_id="user_2sam", email="sam@example.org")
    for owner, title, goal_type, category, days in [
        (maria, LONG_TITLE, "concrete", "craft", 3),
        (maria, "Call grandma every Sunday", "abstract", "connection", None),
        (sam, "Run a half marathon", "concrete", "health", -2),
        (sam, "Write a novel", "abstract", "craft", 40),
        (maria, "Graduate early from Georgia Tech", "concrete", "growth", 160),
    ]:
        GoalFactory(
            user=owner,
            title=title,
            goal_type=goal_type,
            value_category=category,
            target_date=None if days is None else today + dt.timedelta(days=days),
        )

    log_in(page, "/admin/login/?next=/admin/goals/goal/")
    expect(page.locator("h1")).to_have_text("Select goal to change")
    # The admin's CSS and ours loaded (whitenoise, DEBUG off).
    header = page.evaluate("getComputedStyle(document.querySelector('#header')).backgroundColor")
    assert header == "rgb(65, 118, 144)"
    cell = page.locator("#result_list td.field-updated").first
    assert cell.evaluate("td => getComputedStyle(td).whiteSpace") == "nowrap"
    # Every column is in view at 1400 px: the table does not scroll sideways.
    results = page.locator("#changelist .results")
    assert results.evaluate("r => r.scrollWidth <= r.clientWidth"), "the change list overflows"
    long_title = page.locator(f'#result_list span[title="{LONG_TITLE}"]')
    assert long_title.inner_text() == "Learn to play the cello well …"
    screenshot(page, "admin-changelist")

    # Filter: deadlines look forward.
    rows = page.locator("#result_list tbody tr")
    page.locator("#changelist-filter a", has_text="Next 7 days").click()
    expect(page).to_have_url(re.compile(r"deadline=next_7_days"))
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("Learn to play the cello")
    page.locator("#changelist-filter a", has_text="Overdue").click()
    expect(page).to_have_url(re.compile(r"deadline=overdue"))
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("Run a half marathon")
    page.locator("#changelist-filter a", has_text="No date").click()
    expect(page).to_have_url(re.compile(r"deadline=none"))
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("Call grandma every Sunday")

    # Search by the owner's email, then open, edit and save a goal.
    page.goto("/admin/goals/goal/")
    page.fill("#searchbar", "sam@example.org")
    page.press("#searchbar", "Enter")
    expect(page).to_have_url(re.compile(r"q=sam%40example.org"))
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("sam@example.org")
    page.fill("#searchbar", "user_2maria")
    page.press("#searchbar", "Enter")
    expect(page).to_have_url(re.compile(r"q=user_2maria"))
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("maria@example.com")
    page.locator("#result_list a", has_text="Call grandma every Sunday").click()
    expect(page.locator("h1")).to_have_text("Change goal")
    expect(page.locator("a.deletelink")).to_have_count(0)  # erasing is for superusers
    page.fill("#id_title", "Call grandma every Sunday evening")
    page.locator("input[name=_save]").click()
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")
    goal = Goal.objects.get(title="Call grandma every Sunday evening")

    # The archive action, and updated_at moving on the page.
    edited = page.locator('span[title="Call grandma every Sunday evening"]')  # the whole title
    row = rows.filter(has=edited)
    expect(row.locator("th")).to_have_text("Call grandma every Sunday eve…")
    before = row.locator("td.field-updated time").get_attribute("datetime")
    assert before == timezone.localtime(goal.updated_at).isoformat()
    row.locator("input.action-select").check()
    page.select_option("select[name=action]", "archive")
    page.locator("button[name=index]").click()
    expect(page.locator(".messagelist")).to_contain_text("Archived 1 goal(s)")
    expect(row.locator("td.field-status")).to_have_text("Archived")
    after = row.locator("td.field-updated time").get_attribute("datetime")
    assert dt.datetime.fromisoformat(after) > dt.datetime.fromisoformat(before)
    assert Goal.objects.get(pk=goal.pk).status == "archived"


def raw_form(page, form: str):
    """The raw-data form's textarea and the JSON it offers."""
    textarea = page.locator(f"#{form}-generic-content-form textarea")
    return textarea, json.loads(textarea.input_value())


def test_staff_create_and_edit_a_goal_in_the_browsable_api(browser_page, staff):
    page, _ = browser_page
    log_in(page, "/api-auth/login/?next=/api/v1/goals")
    expect(page.locator("h1")).to_have_text("Goals")

    # The POST form, as offered, with only the required field that has no value filled in.
    textarea, offered = raw_form(page, "post")
    assert offered["title"] == ""
    assert None not in (offered["goal_type"], offered["value_category"], offered["status"])
    textarea.fill(json.dumps({**offered, "title": "Read twenty books"}, indent=4))
    page.locator("#post-generic-content-form button", has_text="POST").click()
    expect(page.locator(".response-info")).to_contain_text("HTTP 201 Created")
    goal = Goal.objects.get(title="Read twenty books")
    assert goal.user == staff
    screenshot(page, "browsable-api-created")

    # The PATCH form, as offered: the goal's writable fields; change one, send it.
    page.goto(f"/api/v1/goals/{goal.pk}")
    expect(page.locator("h1")).to_have_text("Goal")
    textarea, offered = raw_form(page, "put")
    assert list(offered) == WRITABLE
    assert offered["title"] == "Read twenty books"
    textarea.fill(json.dumps({**offered, "status": "paused"}, indent=4))
    with page.expect_response(lambda response: response.request.method == "PATCH") as patch:
        page.locator("#put-generic-content-form button[data-method=PATCH]").click()
    assert patch.value.status == 200
    # The browsable API writes the answer's page over this one.
    expect(page.locator(".request-info")).to_contain_text("PATCH")
    expect(page.locator(".response-info")).to_contain_text("HTTP 200 OK")
    assert Goal.objects.get(pk=goal.pk).status == "paused"
    _, offered = raw_form(page, "put")  # still the goal's form, with its new values
    assert offered == {**offered, "status": "paused", "title": "Read twenty books"}
    assert list(offered) == WRITABLE
    page.goto(f"/api/v1/goals/{goal.pk}")
    screenshot(page, "browsable-api")

    # DELETE says it archives.
    page.locator("button", has_text="DELETE (archive)").click()
    dialog = page.locator("#deleteModal")
    dialog.wait_for(state="visible")
    assert "Archive this goal?" in dialog.inner_text()
    dialog.locator("button", has_text="Archive").click()
    expect(page.locator(".request-info")).to_contain_text("DELETE")
    expect(page.locator(".response-info")).to_contain_text('"status": "archived"')
    assert Goal.objects.get(pk=goal.pk).status == "archived"


def test_a_client_author_tries_the_api_in_swagger_ui(browser_page, db):
    page, _ = browser_page
    token = make_token("user_docs_reader")
    page.goto("/docs")
    page.locator(".information-container", has_text="dev_token").wait_for()
    assert "getToken()" in page.locator(".information-container").inner_text()

    page.locator(".auth-wrapper button.authorize").click()
    dialog = page.locator(".modal-ux")
    dialog.locator("input").fill(token)
    dialog.locator("button.authorize").click()
    dialog.locator("button.btn-done").click()

    create = page.locator(".opblock-post", has=page.locator('[data-path="/api/v1/goals"]'))
    create.locator(".opblock-summary").click()
    create.locator("button.try-out__btn").click()
    body = {"title": "Learn Swagger", "goal_type": "concrete", "value_category": "craft"}
    create.locator("textarea.body-param__text").fill(json.dumps(body))
    create.locator("button.execute").click()
    expect(create.locator(".live-responses-table tr.response .response-col_status")).to_have_text(
        "201"
    )
    assert Goal.objects.get(title="Learn Swagger").user.clerk_user_id == "user_docs_reader"

    listing = page.locator(".opblock-get", has=page.locator('[data-path="/api/v1/goals"]'))
    listing.locator(".opblock-summary").click()
    listing.locator("button.try-out__btn").click()
    # Try it out fills each parameter with its documented example (a search, date bounds), which
    # together match nothing; a person clears them to list everything.
    for field in listing.locator("tr[data-param-name] input[type=text]").all():
        field.fill("")
    listing.locator("button.execute").click()
    expect(listing.locator(".live-responses-table tr.response .response-col_status")).to_have_text(
        "200"
    )
    expect(
        listing.locator(".live-responses-table tr.response .response-col_description")
    ).to_contain_text("Learn Swagger")
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "swagger-ui")


def test_redoc_renders_from_the_service_alone(browser_page, db):
    page, watch = browser_page
    page.goto("/redoc")
    expect(page.locator("h1", has_text="Delight Goals API")).to_be_visible()
    expect(page.get_by_text("/api/v1/goals", exact=True).first).to_be_attached()
    expect(page.locator("body")).to_contain_text("manage.py dev_token <user_id>")
    # ReDoc's side menu always shows Redocly's logo; here it is an inline image.
    logos = page.locator("img").evaluate_all("images => images.map(image => image.src)")
    assert all(re.match(r"data:|http://127\.0\.0\.1", src) for src in logos), logos
    assert any(
        url.endswith("/static/drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js")
        for url in watch.requests
    )
    screenshot(page, "redoc")

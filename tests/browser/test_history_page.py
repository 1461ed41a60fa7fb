"""A goal's History page in the admin, as staff read it in Chromium: every writer's changes with
their values before and after, filtered by actor; no error on the page, nothing fetched from
elsewhere (tests/browser/conftest.py watches it)."""

import pytest
from django.conf import global_settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from playwright.sync_api import expect

from goals.history import acting_as
from goals.models import Actor, Goal
from tests.browser.conftest import screenshot
from tests.factories import GoalFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)  # the server is another process

PASSWORD = "a long staff passphrase"


@pytest.fixture
def staff(settings):
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    user = get_user_model().objects.create_user("historian", password=PASSWORD, is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__endswith="_goal"))
    return user


def test_staff_read_a_goals_history(browser_page, staff):
    page, _ = browser_page
    goal = GoalFactory(
        user=UserFactory(clerk_user_id="user_2maria"),
        title="Call grandma every Sunday",
        description="Before dinner",
    )
    Goal.objects.filter(pk=goal.pk).update(status="paused", target_date="2027-01-31")
    # Staff's change made here, not through the change form: an admin save in the server would
    # cache the goals' content type there, which the next test's flush renumbers.
    with acting_as(Actor.STAFF):
        Goal.objects.filter(pk=goal.pk).update(title="Call grandma every Sunday evening")

    page.goto(f"/admin/login/?next=/admin/goals/goal/{goal.pk}/history/")
    page.fill("#id_username", "historian")
    page.fill("#id_password", PASSWORD)
    page.locator("input[type=submit]").click()
    expect(page.locator("h1")).to_have_text("History: Call grandma every Sunday evening")
    table = page.locator("#goal-history table")
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(1 + 2 + 6)  # staff's title, system's two fields, the creation
    expect(rows.nth(0)).to_contain_text("Staff")
    expect(rows.nth(0)).to_contain_text("Call grandma every Sunday evening")
    expect(rows.nth(1)).to_contain_text("System")
    expect(rows.nth(1)).to_contain_text("2027-01-31")
    expect(table).to_contain_text("Paused")
    expect(page.locator("#goal-history")).to_contain_text("3 events")
    # The page's own style sheet applied: long values wrap instead of widening the table.
    cell = table.locator("td.change-value").first
    assert cell.evaluate("td => getComputedStyle(td).whiteSpace") == "pre-wrap"
    screenshot(page, "admin-history")

    page.locator("#goal-history-filters a", has_text="Staff").click()
    expect(rows).to_have_count(1)
    expect(page.locator("#goal-history")).to_contain_text("1 event")

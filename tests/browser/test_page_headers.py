"""The pages' Content-Security-Policy as Chromium applies it (delight/headers.py): every page a
person opens carries it and loads without a violation (a violation is a console error, which
tests/browser/conftest.py fails on, in every test of this folder), and it does refuse what it
should. Also Swagger UI's token, kept in the page's memory only, and the pages the policy made
us change (the browsable API's logout, the CSRF page, a user's image in the admin)."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD, log_in
from tests.factories import GoalFactory, UserFactory
from tests.tokens import make_token

pytestmark = pytest.mark.django_db(transaction=True)  # the server is another process

REFUSED = re.compile(r"violates the following Content Security Policy directive")


def policy_of(response) -> str:
    policy = response.headers.get("content-security-policy")
    assert policy, f"{response.url} has no Content-Security-Policy"
    assert "script-src 'self'" in policy
    assert "'unsafe-eval'" not in policy
    assert "frame-ancestors 'none'" in policy
    return policy


def expected_refusals(watch, count: int) -> None:
    """The console errors a test provoked on purpose: exactly ``count`` refusals by the policy,
    taken off the watch (which fails the test on any other error)."""
    refusals = [error for error in watch.errors if REFUSED.search(error)]
    assert len(refusals) == count, watch.errors
    watch.errors[:] = [error for error in watch.errors if error not in refusals]


def test_every_page_loads_under_the_policy(browser_page, staff):
    page, _ = browser_page
    staff.is_superuser = True  # the users' pages too
    staff.save()
    user = UserFactory(clerk_user_id="user_2ada", email="ada@example.com")
    goal = GoalFactory(user=staff)
    for path, ready in [
        ("/", "h1"),
        ("/docs", ".information-container"),
        ("/redoc", "h1"),
        ("/admin/login/", "#id_username"),
        ("/api-auth/login/", "#id_username"),
    ]:
        policy_of(page.goto(path))
        page.locator(ready).first.wait_for()
        page.wait_for_load_state("networkidle")  # what its scripts load too, before leaving
    log_in(page, "/admin/login/?next=/admin/")
    for path in [
        "/admin/",
        "/admin/goals/goal/",
        f"/admin/goals/goal/{goal.pk}/change/",
        f"/admin/goals/goal/{goal.pk}/history/",
        "/admin/accounts/user/",
        f"/admin/accounts/user/{user.pk}/change/",
        "/api/v1/goals",
        f"/api/v1/goals/{goal.pk}",
    ]:
        response = page.goto(path)
        assert response.status == 200, path
        policy_of(response)
        page.wait_for_load_state("networkidle")  # the admin's scripts add icons after load


def test_the_policy_refuses_an_injected_script_and_framing(browser_page, db):
    page, watch = browser_page
    response = page.goto("/docs")
    policy_of(response)
    page.locator(".information-container").wait_for()
    # What an injected <script> would be: refused, and the page's own set-up ran (nonce).
    ran = page.evaluate(
        """() => {
            const script = document.createElement("script");
            script.textContent = "window.injected = true";
            document.head.append(script);
            return window.injected === true;
        }"""
    )
    assert ran is False
    assert page.evaluate("() => typeof ui") == "object"  # Swagger UI's own inline script
    expected_refusals(watch, 1)
    # (eval cannot be tried from here: code Playwright runs is exempt from the page's policy.)

    # Another page framing this one gets nothing (frame-ancestors 'none', X-Frame-Options).
    page.set_content(f'<iframe src="{watch.server.url}/docs"></iframe>')
    frame = page.frames[1]
    page.wait_for_timeout(500)
    assert frame.locator("#swagger-ui").count() == 0
    assert watch.failed == [f"{watch.server.url}/docs"]  # the framed load, refused
    watch.failed.clear()
    expected_refusals(watch, 1)  # frame-ancestors 'none'
    watch.errors[:] = [e for e in watch.errors if "X-Frame-Options" not in e]


def test_swagger_ui_keeps_the_token_in_the_page_s_memory_only(browser_page, db):
    page, _ = browser_page
    token = make_token("user_docs_reader")
    page.goto("/docs")
    page.locator(".auth-wrapper button.authorize").click()
    dialog = page.locator(".modal-ux")
    dialog.locator("input").fill(token)
    dialog.locator("button.authorize").click()
    dialog.locator("button.btn-done").click()
    authorized = "() => JSON.stringify(ui.authSelectors.authorized().toJS())"
    assert token in page.evaluate(authorized)
    stored = page.evaluate(
        "() => JSON.stringify([{...localStorage}, {...sessionStorage}, document.cookie])"
    )
    assert token not in stored
    assert token[-20:] not in stored

    page.reload()
    page.locator(".information-container").wait_for()
    assert page.evaluate(authorized) == "{}"
    expect(page.locator(".auth-wrapper button.authorize")).to_have_class(re.compile("unlocked"))


def test_staff_log_out_of_the_browsable_api(browser_page, staff):
    """DRF's logout was a link with an inline onclick, which the policy refuses."""
    page, watch = browser_page
    watch.expected_statuses.add(401)
    log_in(page, "/api-auth/login/?next=/api/v1/goals")
    expect(page.locator("h1")).to_have_text("Goals")
    page.locator(".navbar .dropdown-toggle", has_text="staffer").click()
    page.locator("form.logout button", has_text="Log out").click()
    page.wait_for_load_state()
    expect(page.locator(".navbar")).to_contain_text("Log in")
    page.goto("/api/v1/goals")
    expect(page.locator(".authentication-help")).to_contain_text("This API needs credentials")


def test_the_csrf_failure_page_is_styled_from_a_file(browser_page, staff):
    page, watch = browser_page
    watch.expected_statuses.add(403)
    page.goto("/admin/login/")
    page.context.clear_cookies()  # the form's token no longer matches a cookie
    page.fill("#id_username", "staffer")
    page.fill("#id_password", PASSWORD)
    page.locator("input[type=submit]").click()
    expect(page.locator("h1")).to_have_text("Forbidden (403)")
    color = page.evaluate("getComputedStyle(document.querySelector('h1')).color")
    assert color == "rgb(185, 28, 28)"  # delight/static/delight/page.css


def test_a_user_s_image_in_the_admin_and_a_hostile_address_beside_it(browser_page, staff):
    page, watch = browser_page
    staff.is_superuser = True
    staff.save()
    image = f"{watch.server.url}/static/admin/img/icon-yes.svg"
    shown = UserFactory(clerk_user_id="user_2img", image_url=image)
    hostile = UserFactory(clerk_user_id="user_2evil", image_url="javascript:alert(1)")
    log_in(page, f"/admin/login/?next=/admin/accounts/user/{shown.pk}/change/")
    field = page.locator(".field-image")
    expect(field.locator("img")).to_have_attribute("src", image)
    assert field.locator("img").evaluate("img => img.complete && img.naturalWidth > 0")
    expect(field.locator("a")).to_have_attribute("href", image)

    page.goto(f"/admin/accounts/user/{hostile.pk}/change/")
    field = page.locator(".field-image")
    expect(field).to_contain_text("javascript:alert(1)")
    expect(field.locator("a")).to_have_count(0)
    expect(field.locator("img")).to_have_count(0)

"""Password guessing is limited on both login forms (issue 12, item 2): real form POSTs to a live
server, until the limit, then the refusal; the lock holds one address and one username only,
follows the proxy's client address, and ends after the wait or with a reset."""

import os
import re
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[2]
LOGIN_FORMS = ["/admin/login/", "/api-auth/login/"]
PASSWORD = "correct horse battery staple"
HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}

pytestmark = pytest.mark.django_db(transaction=True)


def log_in(base: str, path: str, username: str, password: str, **headers) -> requests.Response:
    """What a browser does: fetch the form (its CSRF cookie and token), then post it."""
    with requests.Session() as browser:
        form = browser.get(base + path, headers=headers, timeout=10)
        assert form.status_code == 200, form.text
        # The cookie is Secure with DEBUG off; requests keeps Secure cookies for https only.
        cookie = form.cookies["csrftoken"]
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)[1]
        return browser.post(
            base + path,
            data={"username": username, "password": password, "csrfmiddlewaretoken": token},
            cookies={"csrftoken": cookie},
            headers={"Referer": base + path, **headers},
            allow_redirects=False,
            timeout=10,
        )


def logged_in(response: requests.Response) -> bool:
    return response.status_code == 302 and "sessionid" in response.cookies


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_user("staff", password=PASSWORD, is_staff=True)


@pytest.fixture
def colleague(db):
    return get_user_model().objects.create_user("colleague", password=PASSWORD, is_staff=True)


def guess_until_locked(base: str, path: str, limit: int, **headers) -> requests.Response:
    """``limit`` wrong passwords: every one but the last gets the form back, the last the lock."""
    for attempt in range(1, limit):
        response = log_in(base, path, "staff", f"guess {attempt}", **headers)
        assert response.status_code == 200, (attempt, response.status_code)
        assert "correct username and password" in response.text
    return log_in(base, path, "staff", f"guess {limit}", **headers)


@pytest.mark.parametrize("path", LOGIN_FORMS)
def test_wrong_passwords_lock_the_address_and_username_after_the_limit(
    live_server, settings, staff, colleague, path
):
    assert settings.AXES_FAILURE_LIMIT == 5  # the default of LOGIN_FAILURE_LIMIT
    locked = guess_until_locked(live_server.url, path, settings.AXES_FAILURE_LIMIT, **HTML)
    assert locked.status_code == 429
    assert locked.headers["Retry-After"] == "900"
    assert "Too many failed logins" in locked.text
    assert "15 minutes" in locked.text
    assert "axes_reset_username staff" in locked.text

    # Now even the right password is refused, and no password is checked at all.
    again = log_in(live_server.url, path, "staff", PASSWORD, **HTML)
    assert again.status_code == 429
    assert not logged_in(again)

    # Another username from the same address (a colleague behind the same NAT) gets in.
    assert logged_in(log_in(live_server.url, path, "colleague", PASSWORD))


def test_both_forms_share_one_count(live_server, settings, staff):
    """Guessing on one form does not buy a fresh allowance on the other."""
    for attempt in range(settings.AXES_FAILURE_LIMIT - 1):
        assert log_in(live_server.url, LOGIN_FORMS[attempt % 2], "staff", "nope").status_code == 200
    assert log_in(live_server.url, "/api-auth/login/", "staff", "nope").status_code == 429
    assert log_in(live_server.url, "/admin/login/", "staff", PASSWORD).status_code == 429


def test_a_right_password_before_the_limit_clears_the_count(live_server, settings, staff):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        log_in(live_server.url, "/admin/login/", "staff", "typo")
    assert logged_in(log_in(live_server.url, "/admin/login/", "staff", PASSWORD))
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert log_in(live_server.url, "/admin/login/", "staff", "typo").status_code == 200


def test_behind_the_proxy_the_forwarded_address_is_counted(live_server, settings, staff):
    """With DJANGO_BEHIND_PROXY=1 every request arrives from the proxy (here 127.0.0.1): the
    lock must hold the client the proxy names, or one guesser would lock out everyone."""
    settings.BEHIND_PROXY = True
    guesser = {"X-Forwarded-For": "203.0.113.7"}
    locked = guess_until_locked(live_server.url, "/admin/login/", 5, **guesser)
    assert locked.status_code == 429
    # Not a browser: the same refusal as the API's errors, in JSON.
    assert locked.headers["Content-Type"] == "application/json"
    assert locked.json()["detail"].startswith("Too many failed logins")
    assert set(AccessAttempt.objects.values_list("ip_address", "username")) == {
        ("203.0.113.7", "staff")
    }
    # The same person through the same proxy, from their own address, is not locked out.
    elsewhere = {"X-Forwarded-For": "198.51.100.20"}
    assert logged_in(log_in(live_server.url, "/admin/login/", "staff", PASSWORD, **elsewhere))
    # A client cannot escape the count by sending its own X-Forwarded-For: the proxy appends
    # the real address last, and that is the one counted (delight.throttling.client_address).
    spoofed = {"X-Forwarded-For": "192.0.2.1, 203.0.113.7"}
    assert log_in(live_server.url, "/admin/login/", "staff", PASSWORD, **spoofed).status_code == 429


def test_the_lock_ends_after_the_wait(live_server, settings, staff):
    settings.AXES_COOLOFF_TIME = timedelta(seconds=2)
    locked = guess_until_locked(live_server.url, "/api-auth/login/", 5, **HTML)
    assert locked.status_code == 429
    assert locked.headers["Retry-After"] == "2"
    time.sleep(2.2)
    assert logged_in(log_in(live_server.url, "/api-auth/login/", "staff", PASSWORD))


def test_a_superuser_can_reset_the_lock(live_server, staff):
    assert guess_until_locked(live_server.url, "/admin/login/", 5).status_code == 429
    call_command("axes_reset_username", "staff", verbosity=0)
    assert logged_in(log_in(live_server.url, "/admin/login/", "staff", PASSWORD))


def test_the_limits_come_from_the_environment():
    environ = {
        **os.environ,
        "LOGIN_FAILURE_LIMIT": "3",
        "LOGIN_LOCKOUT_SECONDS": "60",
        "DJANGO_SETTINGS_MODULE": "delight.settings",
    }
    script = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.AXES_FAILURE_LIMIT, settings.AXES_COOLOFF_TIME.total_seconds())"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.split() == ["3", "60.0"]

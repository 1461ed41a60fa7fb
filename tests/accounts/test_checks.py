"""System checks about the Clerk settings (issue #12 item 10, issue #14): production without an
issuer, authorized parties or a webhook secret still starts, but says what it is not checking."""

import os
import sys

import pytest
from django.core.checks import Warning, run_checks

from tests.delight.test_settings import run

IDS = {"accounts.W001", "accounts.W002", "accounts.W003"}


def warnings_about_clerk() -> set[str]:
    return {message.id for message in run_checks() if isinstance(message, Warning)} & IDS


@pytest.fixture
def production(settings):
    settings.DEBUG = False
    settings.CLERK_ISSUER = "https://clerk.example.test"
    settings.CLERK_AUTHORIZED_PARTIES = ["https://app.example.test"]
    settings.CLERK_WEBHOOK_SIGNING_SECRET = "whsec_c2VjcmV0"
    return settings


def test_a_fully_configured_production_has_no_clerk_warning(production):
    assert warnings_about_clerk() == set()


@pytest.mark.parametrize(
    ("setting", "empty", "check_id"),
    [
        ("CLERK_ISSUER", None, "accounts.W001"),
        ("CLERK_AUTHORIZED_PARTIES", [], "accounts.W002"),
        ("CLERK_WEBHOOK_SIGNING_SECRET", None, "accounts.W003"),
    ],
)
def test_each_missing_setting_is_a_warning_in_production(production, setting, empty, check_id):
    setattr(production, setting, empty)
    assert warnings_about_clerk() == {check_id}
    (message,) = [m for m in run_checks() if m.id == check_id]
    assert setting in message.msg
    assert message.hint


def test_with_debug_on_nothing_is_said(production):
    production.DEBUG = True
    production.CLERK_ISSUER = None
    production.CLERK_AUTHORIZED_PARTIES = []
    production.CLERK_WEBHOOK_SIGNING_SECRET = None
    assert warnings_about_clerk() == set()


def test_manage_py_check_deploy_names_the_missing_clerk_settings():
    """The same production settings as test_deploy_checks_pass_with_production_settings, minus
    the three Clerk variables: three warnings, and --fail-level WARNING fails."""
    result = run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        DJANGO_SECRET_KEY="k" + "".join(chr(33 + i % 90) for i in range(60)),
        CLERK_JWT_KEY=os.environ["CLERK_JWT_KEY"],
        DATABASE_URL="postgresql://nobody@127.0.0.1:9/none",
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    for check_id, name in [
        ("accounts.W001", "CLERK_ISSUER"),
        ("accounts.W002", "CLERK_AUTHORIZED_PARTIES"),
        ("accounts.W003", "CLERK_WEBHOOK_SIGNING_SECRET"),
    ]:
        assert check_id in output
        assert name in output
    assert "3 issues" in output

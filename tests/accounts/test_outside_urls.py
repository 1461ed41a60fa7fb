"""A URL that arrives from outside (a Clerk webhook's ``image_url``) is a link or an image in the
admin only when it is ``http(s)``. A signed ``user.created`` with ``image_url:
"javascript:..."`` became ``<a href="javascript:...">`` on the user's admin page, one staff click
from running in the admin's origin. Deliveries are signed as Svix signs them
(tests/clerk_events.py); nothing is mocked."""

import logging
import re

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from delight.links import web_url
from tests import clerk_events
from tests.clerk_events import WEBHOOK_URL, headers, user_created, user_updated
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

User = get_user_model()

HOSTILE = [
    "javascript:alert(document.cookie)",
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "java\tscript:alert(1)",
    "data:image/svg+xml,<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "vbscript:msgbox(1)",
    "//evil.example/a.png",
    "/admin/logout/",
    "https:javascript:alert(1)",
    "http://[::1",
]


@pytest.fixture
def secret(settings) -> str:
    settings.CLERK_WEBHOOK_SIGNING_SECRET = clerk_events.new_secret()
    return settings.CLERK_WEBHOOK_SIGNING_SECRET


def deliver(secret: str, body: bytes):
    signed = headers(secret, body)
    return APIClient().post(WEBHOOK_URL, body, content_type="application/json", **signed)


def links_and_images(page: str) -> list[str]:
    return re.findall(r'(?:href|src)="([^"]*)"', page)


@pytest.mark.parametrize(
    "image_url", ["javascript:alert(document.cookie)", "data:image/png;base64,iVBORw0KGgo="]
)
def test_a_signed_webhook_s_hostile_image_url_is_never_a_link_in_the_admin(
    secret, admin_client, caplog, image_url
):
    response = deliver(secret, user_created("user_mallory", image_url=image_url))
    assert response.json() == {"status": "processed"}
    user = User.objects.get(clerk_user_id="user_mallory")
    assert user.email == "ada@example.com"  # the rest of the event is applied
    assert user.image_url == ""  # the address is dropped on the way in
    assert "dropped an image_url that is not an http(s) address" in caplog.text
    assert image_url not in caplog.text

    page = admin_client.get(f"/admin/accounts/user/{user.pk}/change/").content.decode()
    scheme = image_url.split(":")[0]
    assert not [url for url in links_and_images(page) if url.startswith(f"{scheme}:")]
    assert image_url not in page


def test_a_later_update_with_a_hostile_image_url_drops_the_old_one(secret):
    deliver(secret, user_created("user_ada"))
    later = user_updated("user_ada", image_url="javascript:alert(1)", updated_at=10**13)
    assert deliver(secret, later).json() == {"status": "processed"}
    assert User.objects.get(clerk_user_id="user_ada").image_url == ""


def test_a_signed_webhook_s_https_image_is_shown_and_linked(secret, admin_client):
    url = "https://img.clerk.com/eyJ0eXBlIjoicHJveHkifQ?w=48&h=48"
    deliver(secret, user_created("user_ada", image_url=url))
    user = User.objects.get(clerk_user_id="user_ada")
    assert user.image_url == url
    page = admin_client.get(f"/admin/accounts/user/{user.pk}/change/").content.decode()
    escaped = url.replace("&", "&amp;")
    assert f'<img src="{escaped}"' in page
    assert f'<a href="{escaped}">' in page


@pytest.mark.parametrize("image_url", HOSTILE)
def test_a_hostile_address_already_stored_is_shown_as_text(admin_client, image_url):
    """A row written before webhooks were checked, or by plain SQL: the admin checks too."""
    user = UserFactory(clerk_user_id="user_old", image_url=image_url)
    page = admin_client.get(f"/admin/accounts/user/{user.pk}/change/").content.decode()
    field = page[page.index("field-image") :]
    field = field[: field.index("</div>", field.index("readonly"))]
    assert "<a " not in field
    assert "<img" not in field
    assert not [url for url in links_and_images(page) if "script" in url.lower()]
    assert not [url for url in links_and_images(page) if url.startswith("data:")]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://img.clerk.com/a.png", "https://img.clerk.com/a.png"),
        ("HTTPS://IMG.CLERK.COM/A.PNG", "HTTPS://IMG.CLERK.COM/A.PNG"),
        ("http://example.com/a.png", "http://example.com/a.png"),
        ("", ""),
        (None, ""),
        *[(value, "") for value in HOSTILE],
    ],
)
def test_only_absolute_http_addresses_are_web_urls(value, expected):
    assert web_url(value) == expected


def test_the_drop_is_logged_without_the_address(secret, caplog):
    caplog.set_level(logging.INFO)
    deliver(secret, user_created("user_eve", image_url="javascript:steal()"))
    (line,) = [r for r in caplog.records if "image_url" in r.getMessage()]
    assert line.levelno == logging.WARNING
    assert "steal" not in line.getMessage()
    assert "user_eve" not in line.getMessage()

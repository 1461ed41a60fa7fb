"""Staff see people, not ids: the accounts admin lists and searches users by email and name."""

import pytest

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/accounts/user/"


@pytest.fixture
def people(db):
    ada = UserFactory(
        clerk_user_id="user_ada", email="ada@example.com", first_name="Ada", last_name="Lovelace"
    )
    grace = UserFactory(
        clerk_user_id="user_grace",
        email="grace@navy.example",
        first_name="Grace",
        last_name="Hopper",
    )
    return ada, grace


def test_change_list_shows_email_and_names(admin_client, people):
    page = admin_client.get(CHANGELIST).content.decode()
    for text in ("ada@example.com", "Ada", "Lovelace", "grace@navy.example", "Hopper", "user_ada"):
        assert text in page


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("ada@example", "user_ada"),
        ("hopper", "user_grace"),
        ("Grace", "user_grace"),
        ("user_ada", "user_ada"),
    ],
)
def test_search_by_email_name_and_clerk_id(admin_client, people, query, expected):
    results = admin_client.get(CHANGELIST, {"q": query}).context["cl"].result_list
    assert [user.clerk_user_id for user in results] == [expected]


def test_a_clerk_users_change_page_shows_the_synced_fields_read_only(admin_client, people):
    ada, _ = people
    ada.image_url = "https://img.clerk.com/ada.png"
    ada.save()
    page = admin_client.get(f"{CHANGELIST}{ada.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "https://img.clerk.com/ada.png" in html
    assert 'name="username"' not in html  # derived from the Clerk id: not editable
    assert 'name="is_active"' in html  # staff can still disable an account


def test_staff_can_deactivate_a_clerk_user(admin_client, people):
    ada, _ = people
    page = admin_client.get(f"{CHANGELIST}{ada.pk}/change/")
    form = page.context["adminform"].form
    data = {
        name: value
        for name, value in form.initial.items()
        if name in form.fields and value is not None
    }
    data.update({"is_active": "", "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00"})
    data.pop("groups", None)
    data.pop("user_permissions", None)
    data.pop("date_joined", None)
    data.pop("last_login", None)
    response = admin_client.post(f"{CHANGELIST}{ada.pk}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    ada.refresh_from_db()
    assert ada.is_active is False


def test_erased_users_and_deliveries_are_listed_read_only(admin_client):
    from accounts.models import ErasedClerkUser, WebhookDelivery

    ErasedClerkUser.objects.create(clerk_user_id="user_gone")
    WebhookDelivery.objects.create(id="msg_2abc", event_type="user.deleted")
    erased = admin_client.get("/admin/accounts/erasedclerkuser/")
    deliveries = admin_client.get("/admin/accounts/webhookdelivery/", {"q": "msg_2abc"})
    assert "user_gone" in erased.content.decode()
    assert "msg_2abc" in deliveries.content.decode()
    assert admin_client.get("/admin/accounts/erasedclerkuser/add/").status_code == 403
    assert admin_client.get("/admin/accounts/webhookdelivery/add/").status_code == 403

"""Clerk's user lifecycle through its Svix-signed webhooks (issue #14).

Every delivery is signed by the tests with real HMAC-SHA256 and a secret of their own
(tests/clerk_events.py); the service verifies it with its own library. Nothing is mocked.
"""

import json
import logging
import os
import threading
import time

import pytest
import requests
from django.contrib.auth import get_user_model
from django.db import connection
from rest_framework.test import APIClient

from accounts.models import ErasedClerkUser, WebhookDelivery
from tests import clerk_events
from tests.clerk_events import WEBHOOK_URL, headers, user_created, user_deleted, user_updated
from tests.factories import GoalFactory, UserFactory
from tests.tokens import make_token

pytestmark = pytest.mark.django_db

User = get_user_model()


@pytest.fixture
def secret(settings) -> str:
    settings.CLERK_WEBHOOK_SIGNING_SECRET = clerk_events.new_secret()
    return settings.CLERK_WEBHOOK_SIGNING_SECRET


def deliver(secret: str, body: bytes, **kwargs):
    """POST ``body`` signed with ``secret``; ``extra`` replaces or adds headers."""
    extra = kwargs.pop("extra", {})
    signed = headers(secret, body, **kwargs)
    signed.update(extra)
    return APIClient().post(WEBHOOK_URL, body, content_type="application/json", **signed)


def assert_error(response, status: int):
    assert response.status_code == status, response.content
    assert set(response.json()) == {"detail"}
    assert response.json()["detail"]


def rows(sql: str, params=()) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


# --- user.created / user.updated ----------------------------------------------------------------


def test_user_created_creates_the_account_with_email_names_and_image(secret):
    response = deliver(secret, user_created("user_ada"))
    assert response.status_code == 200
    assert response.json() == {"status": "processed"}
    user = User.objects.get(clerk_user_id="user_ada")
    assert (user.email, user.first_name, user.last_name) == ("ada@example.com", "Ada", "Lovelace")
    assert user.image_url == "https://img.clerk.com/ada.png"
    assert not user.has_usable_password()
    assert user.username == "clerk:user_ada"


def test_user_updated_changes_the_account(secret):
    deliver(secret, user_created("user_ada"))
    later = int(time.time() * 1000) + 1000
    response = deliver(
        secret,
        user_updated("user_ada", email="ada@lovelace.org", last_name="King", updated_at=later),
    )
    assert response.json() == {"status": "processed"}
    user = User.objects.get(clerk_user_id="user_ada")
    assert (user.email, user.last_name) == ("ada@lovelace.org", "King")


def test_user_updated_for_an_account_first_seen_through_a_token(secret):
    assert (
        APIClient(HTTP_AUTHORIZATION=f"Bearer {make_token('user_tok')}")
        .get("/api/v1/goals")
        .status_code
        == 200
    )
    deliver(secret, user_updated("user_tok", first_name="Grace", last_name="Hopper"))
    user = User.objects.get(clerk_user_id="user_tok")
    assert (user.first_name, user.last_name) == ("Grace", "Hopper")
    assert User.objects.filter(clerk_user_id="user_tok").count() == 1


def test_user_updated_for_an_unknown_user_creates_it(secret):
    """An upsert: the first event we hear of may be an update (user.created was lost or late)."""
    assert deliver(secret, user_updated("user_new")).status_code == 200
    assert User.objects.get(clerk_user_id="user_new").email == "ada@example.com"


def test_an_older_update_arriving_late_changes_nothing(secret):
    now = int(time.time() * 1000)
    deliver(secret, user_updated("user_ada", email="new@example.com", updated_at=now))
    response = deliver(
        secret, user_updated("user_ada", email="stale@example.com", updated_at=now - 5)
    )
    assert response.status_code == 200
    assert User.objects.get(clerk_user_id="user_ada").email == "new@example.com"


def test_missing_names_and_email_are_stored_blank(secret):
    body = user_created("user_anon", email=None, first_name=None, last_name=None, image_url="")
    assert deliver(secret, body).status_code == 200
    user = User.objects.get(clerk_user_id="user_anon")
    assert (user.email, user.first_name, user.last_name, user.image_url) == ("", "", "", "")


def test_values_the_database_cannot_store_are_cleaned_not_a_500(secret):
    data = clerk_events.user_data("user_odd", first_name="A\x00da\ud800", last_name="L" * 500)
    data["email_addresses"][-1]["email_address"] = "x" * 300 + "@example.com"
    response = deliver(secret, clerk_events.envelope("user.created", data))
    assert response.status_code == 200
    user = User.objects.get(clerk_user_id="user_odd")
    assert user.first_name == "Ada\ufffd"
    assert len(user.last_name) == 150
    assert user.email == ""  # no address is longer than 254 characters (RFC 5321)


@pytest.mark.parametrize(
    "data",
    [
        {"id": 42},
        {"id": ""},
        {"id": "user_\ud800"},
        {"no_id": True},
        [],
    ],
)
def test_signed_events_without_a_usable_user_id_are_400_and_write_nothing(secret, data):
    body = clerk_events.envelope("user.created", data)
    assert_error(deliver(secret, body), 400)
    assert not User.objects.exists()
    assert not WebhookDelivery.objects.exists()


# --- user.deleted: erasure ----------------------------------------------------------------------


def test_user_deleted_erases_the_user_and_all_their_goals(secret):
    ada = UserFactory(clerk_user_id="user_ada")
    GoalFactory.create_batch(5, user=ada)
    other = GoalFactory()
    response = deliver(secret, user_deleted("user_ada"))
    assert response.json() == {"status": "processed"}
    # At the database level, whatever the ORM believes.
    assert rows("SELECT count(*) FROM users WHERE id = %s", [ada.pk]) == 0
    assert rows("SELECT count(*) FROM goals WHERE user_id = %s", [ada.pk]) == 0
    assert rows("SELECT count(*) FROM goals WHERE id = %s", [other.pk]) == 1
    tombstone = ErasedClerkUser.objects.get()
    assert tombstone.clerk_user_id == "user_ada"
    assert tombstone.erased_at is not None
    # The tombstone holds nothing personal: the Clerk id and the time, no more.
    assert {field.name for field in ErasedClerkUser._meta.get_fields()} == {
        "clerk_user_id",
        "erased_at",
    }


def test_erasure_is_one_transaction(secret, django_assert_max_num_queries):
    """Either the user and every goal go, or nothing does: the goals' delete and the user's
    delete are inside the same BEGIN ... COMMIT."""
    ada = UserFactory(clerk_user_id="user_ada")
    GoalFactory.create_batch(3, user=ada)
    with django_assert_max_num_queries(20) as captured:
        deliver(secret, user_deleted("user_ada"))
    sql = [query["sql"] for query in captured.captured_queries]
    goals_delete = next(i for i, q in enumerate(sql) if q.startswith('DELETE FROM "goals"'))
    users_delete = next(i for i, q in enumerate(sql) if q.startswith('DELETE FROM "users"'))
    savepoints = [i for i, q in enumerate(sql) if q.startswith("SAVEPOINT")]
    releases = [i for i, q in enumerate(sql) if q.startswith("RELEASE SAVEPOINT")]
    # The test runs inside a transaction, so the service's atomic block is a savepoint.
    assert savepoints[0] < goals_delete < users_delete < releases[-1]


def test_erasure_is_logged_without_personal_data(secret, caplog):
    ada = UserFactory(clerk_user_id="user_ada", email="ada@example.com", first_name="Ada")
    GoalFactory.create_batch(2, user=ada)
    with caplog.at_level(logging.INFO, logger="accounts"):
        deliver(secret, user_deleted("user_ada"), msg_id="msg_erase_1")
    lines = [record.getMessage() for record in caplog.records if record.name.startswith("accounts")]
    assert any("erased" in line and "2 goals" in line and "msg_erase_1" in line for line in lines)
    text = "\n".join(lines)
    for personal in ("user_ada", "ada@example.com", "Ada", str(ada.pk)):
        assert personal not in text


def test_user_deleted_for_an_unknown_user_is_acknowledged_and_remembered(secret):
    response = deliver(secret, user_deleted("user_never_seen"))
    assert response.json() == {"status": "processed"}
    assert ErasedClerkUser.objects.filter(clerk_user_id="user_never_seen").exists()


def test_a_late_user_updated_does_not_bring_an_erased_user_back(secret):
    deliver(secret, user_created("user_ada"))
    deliver(secret, user_deleted("user_ada"))
    for body in (user_updated("user_ada"), user_created("user_ada")):
        response = deliver(secret, body)
        assert response.status_code == 200
        assert response.json() == {"status": "ignored"}
    assert not User.objects.filter(clerk_user_id="user_ada").exists()


def test_a_token_issued_before_the_deletion_is_refused_after_it(secret):
    token = make_token("user_ada")
    client = APIClient(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert client.get("/api/v1/goals").status_code == 200  # known to this process now
    deliver(secret, user_deleted("user_ada"))
    response = client.get("/api/v1/goals")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json() == {"detail": "This account has been deleted."}
    assert not User.objects.filter(clerk_user_id="user_ada").exists()


def test_an_erased_user_is_refused_on_a_cold_cache_too(secret):
    """Another process, or this one later: no cache, only the tombstone in the database."""
    from accounts.services import clear_user_cache, forget_revocations

    deliver(secret, user_deleted("user_ada"))
    clear_user_cache()
    forget_revocations()
    response = APIClient(HTTP_AUTHORIZATION=f"Bearer {make_token('user_ada')}").get("/api/v1/goals")
    assert response.status_code == 401
    assert not User.objects.filter(clerk_user_id="user_ada").exists()


# --- idempotency and replays --------------------------------------------------------------------


def test_a_replayed_delivery_is_acknowledged_and_changes_nothing(secret):
    body = user_created("user_ada")
    assert deliver(secret, body, msg_id="msg_1").json() == {"status": "processed"}
    User.objects.filter(clerk_user_id="user_ada").update(first_name="Edited")
    # Svix re-signs a replay with a new timestamp, under the same message id.
    replay = deliver(secret, body, msg_id="msg_1", timestamp=int(time.time()) + 1)
    assert replay.status_code == 200
    assert replay.json() == {"status": "already processed"}
    assert User.objects.get(clerk_user_id="user_ada").first_name == "Edited"
    assert WebhookDelivery.objects.filter(pk="msg_1").count() == 1


def test_unknown_event_types_are_acknowledged_and_ignored(secret):
    body = clerk_events.envelope("session.created", {"id": "sess_1", "user_id": "user_ada"})
    response = deliver(secret, body)
    assert response.status_code == 200
    assert response.json() == {"status": "ignored"}
    assert not User.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicate_deliveries_are_processed_once(secret, live_server):
    """Svix may deliver one message twice at once: 12 threads, one message id, one effect."""
    body = user_created("user_twin")
    signed = clerk_events.http_headers(headers(secret, body, msg_id="msg_twin"))
    signed["content-type"] = "application/json"
    barrier = threading.Barrier(12)
    answers = []

    def post():
        barrier.wait()
        response = requests.post(
            f"{live_server.url}{WEBHOOK_URL}", data=body, headers=signed, timeout=30
        )
        answers.append((response.status_code, response.json()["status"]))

    threads = [threading.Thread(target=post) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [(200, "already processed")] * 11 + [(200, "processed")]
    assert User.objects.filter(clerk_user_id="user_twin").count() == 1
    assert WebhookDelivery.objects.filter(pk="msg_twin").count() == 1


# --- refused deliveries -------------------------------------------------------------------------


def assert_refused(response, status: int):
    assert_error(response, status)
    assert not User.objects.exists()
    assert not WebhookDelivery.objects.exists()


def test_a_tampered_body_is_401_and_writes_nothing(secret):
    body = user_created("user_ada")
    signed = headers(secret, body)
    tampered = body.replace(b"ada@example.com", b"eve@example.com")
    response = APIClient().post(WEBHOOK_URL, tampered, content_type="application/json", **signed)
    assert_refused(response, 401)


def test_a_signature_made_with_another_secret_is_401(secret):
    assert_refused(deliver(clerk_events.new_secret(), user_created("user_ada")), 401)


def test_one_valid_signature_among_several_is_enough(secret):
    body = user_created("user_ada")
    signed = headers(secret, body, msg_id="msg_multi", timestamp=int(time.time()))
    wrong = clerk_events.signature(
        clerk_events.new_secret(), "msg_multi", signed["HTTP_SVIX_TIMESTAMP"], body
    )
    # Svix sends one value per active secret (during a rotation), space-separated; an odd value
    # among them must not stop the valid one from being found.
    signed["HTTP_SVIX_SIGNATURE"] = (
        f"{wrong} v2,abc garbage v1,abc v1, v1,a=bc {signed['HTTP_SVIX_SIGNATURE']}"
    )
    response = APIClient().post(WEBHOOK_URL, body, content_type="application/json", **signed)
    assert response.status_code == 200, response.content
    assert User.objects.filter(clerk_user_id="user_ada").exists()


def test_only_invalid_signatures_are_401(secret):
    body = user_created("user_ada")
    signed = headers(secret, body, msg_id="msg_bad")
    bad = clerk_events.signature(
        clerk_events.new_secret(), "msg_bad", signed["HTTP_SVIX_TIMESTAMP"], body
    )
    signed["HTTP_SVIX_SIGNATURE"] = f"{bad} v1,!!!notbase64 v1"
    response = APIClient().post(WEBHOOK_URL, body, content_type="application/json", **signed)
    assert_refused(response, 401)


# Just past the edge: a past timestamp only gets older while the request is made; a future one
# gets nearer (int() drops up to a second, then the request takes its time), so 301 s ahead
# could be 300 s ahead when verified, and accepted (a flaky CI run).
@pytest.mark.parametrize("offset", [-301, -3600, 305, 86400])
def test_stale_and_future_timestamps_are_401(secret, offset):
    """Svix's tolerance is five minutes either way: an old delivery cannot be replayed by a
    third party, however well signed."""
    timestamp = int(time.time()) + offset
    assert_refused(deliver(secret, user_created("user_ada"), timestamp=timestamp), 401)


def test_timestamps_within_the_tolerance_are_accepted(secret):
    assert (
        deliver(secret, user_created("user_a"), timestamp=int(time.time()) - 240).status_code == 200
    )


@pytest.mark.parametrize("missing", ["HTTP_SVIX_ID", "HTTP_SVIX_TIMESTAMP", "HTTP_SVIX_SIGNATURE"])
def test_missing_svix_headers_are_400(secret, missing):
    body = user_created("user_ada")
    signed = headers(secret, body)
    del signed[missing]
    response = APIClient().post(WEBHOOK_URL, body, content_type="application/json", **signed)
    assert_refused(response, 400)


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("HTTP_SVIX_TIMESTAMP", "yesterday"),
        ("HTTP_SVIX_TIMESTAMP", "1e10"),
        ("HTTP_SVIX_TIMESTAMP", "99999999999999999999999"),
        ("HTTP_SVIX_ID", "x" * 256),
        ("HTTP_SVIX_ID", "msg with spaces"),
    ],
)
def test_malformed_svix_headers_are_400(secret, header, value):
    assert_refused(deliver(secret, user_created("user_ada"), extra={header: value}), 400)


@pytest.mark.parametrize(
    "body",
    [b"{not json", b'{"type": "user.created", "data": NaN}', b"\xff\xfe", b"[]", b'"text"', b""],
)
def test_signed_bodies_that_are_not_an_event_are_400(secret, body):
    """Signed correctly, but not JSON (or not an event object): 400, and not remembered."""
    assert_refused(deliver(secret, body), 400)


def test_a_refused_delivery_id_is_not_remembered(secret):
    body = user_created("user_ada")
    tampered = body.replace(b"Ada", b"Eve")
    signed = headers(secret, body, msg_id="msg_retry")
    refused = APIClient().post(WEBHOOK_URL, tampered, content_type="application/json", **signed)
    assert refused.status_code == 401
    # The genuine delivery with the same id still goes through.
    assert deliver(secret, body, msg_id="msg_retry").json() == {"status": "processed"}
    assert User.objects.get(clerk_user_id="user_ada").first_name == "Ada"


def test_without_a_secret_the_route_is_404(settings):
    settings.CLERK_WEBHOOK_SIGNING_SECRET = None
    secret = clerk_events.new_secret()
    response = deliver(secret, user_created("user_ada"))
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}
    assert "Allow" not in response
    assert not User.objects.exists()


@pytest.mark.parametrize("method", ["get", "put", "delete", "options"])
def test_without_a_secret_every_method_is_404(client, settings, method):
    """No route at all, as the README says: not a 405 that names POST."""
    settings.CLERK_WEBHOOK_SIGNING_SECRET = None
    response = getattr(client, method)("/api/v1/webhooks/clerk")
    assert (response.status_code, response.json()) == (404, {"detail": "Not found."})
    assert "Allow" not in response


def test_only_post_is_allowed(secret):
    response = APIClient().get(WEBHOOK_URL)
    assert response.status_code == 405
    assert "POST" in response["Allow"]
    assert (
        APIClient().post(WEBHOOK_URL + "/", b"{}", content_type="application/json").status_code
        == 400
    )


def test_no_bearer_token_and_no_csrf_are_needed(secret):
    """The signature is the credential: a browser-style client with CSRF checks on still gets
    through, and a bearer token is neither needed nor looked at."""
    client = APIClient(enforce_csrf_checks=True)
    body = user_created("user_ada")
    response = client.post(
        WEBHOOK_URL,
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION="Bearer not-a-token",
        **headers(secret, body),
    )
    assert response.status_code == 200


def test_a_body_over_the_limit_is_413(secret):
    body = json.dumps({"type": "user.created", "data": {"pad": "x" * 70_000}}).encode()
    assert_refused(deliver(secret, body), 413)


def test_a_secret_that_is_not_whsec_base64_is_refused_at_start():
    from tests.delight.test_settings import load_settings

    result = load_settings(
        DJANGO_SECRET_KEY="s" * 50,
        CLERK_JWT_KEY=os.environ["CLERK_JWT_KEY"],
        CLERK_WEBHOOK_SIGNING_SECRET="not-a-secret",
    )
    assert result.returncode != 0
    assert "CLERK_WEBHOOK_SIGNING_SECRET must be the whsec_... value" in result.stderr


def test_the_endpoint_is_documented_for_svix_not_for_api_clients():
    from io import StringIO

    import yaml
    from django.core.management import call_command

    out = StringIO()
    call_command("spectacular", stdout=out)
    operation = yaml.safe_load(out.getvalue())["paths"]["/api/v1/webhooks/clerk"]["post"]
    assert operation["tags"] == ["webhooks"]
    assert "security" not in operation  # no bearer token: the signature is the credential
    assert {p["name"] for p in operation["parameters"] if p["required"]} == {
        "svix-id",
        "svix-timestamp",
        "svix-signature",
    }
    examples = operation["requestBody"]["content"]["application/json"]["examples"]
    assert {example["value"]["type"] for example in examples.values()} == {
        "user.created",
        "user.updated",
        "user.deleted",
    }


@pytest.mark.parametrize("value", ["v1,abc", "v1,", "v1", "garbage", "v2,c2lnbmF0dXJl"])
def test_a_header_with_no_usable_v1_signature_is_401(secret, value):
    body = user_created("user_ada")
    assert_refused(deliver(secret, body, extra={"HTTP_SVIX_SIGNATURE": value}), 401)


def test_an_event_without_a_usable_updated_at_is_applied(secret):
    data = clerk_events.user_data("user_ada", first_name="Ada")
    data["updated_at"] = "yesterday"
    assert deliver(secret, clerk_events.envelope("user.updated", data)).status_code == 200
    user = User.objects.get(clerk_user_id="user_ada")
    assert user.first_name == "Ada"
    assert user.clerk_updated_at is None

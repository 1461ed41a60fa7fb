"""What a Clerk session token must look like beyond its signature (issue #12, items 4 to 6).

Every token here is signed for real with the suite's key, so the only thing under test is the
claim or header named in the test: Clerk's own SDK refuses these tokens, and so do we.
"""

import json
import time

import pytest
from django.contrib.auth import get_user_model

from tests import environment
from tests.accounts.test_authentication import assert_401, get
from tests.tokens import b64, claims_for, make_token

pytestmark = pytest.mark.django_db


def signed_text(payload: str, header: dict | None = None) -> str:
    """A token with exactly this JSON payload and header, RS256-signed with the suite's key.

    PyJWT refuses to encode some of these values (a lone surrogate, 1e400), so the JSON is
    written here and only the signature comes from the library."""
    import jwt

    header = {"alg": "RS256", "typ": "JWT", "kid": environment.KEY_ID, **(header or {})}
    signing_input = (b64(json.dumps(header).encode()) + "." + b64(payload.encode())).encode()
    signature = jwt.algorithms.RSAAlgorithm(jwt.algorithms.RSAAlgorithm.SHA256).sign(
        signing_input, environment.PRIVATE_KEY
    )
    return signing_input.decode() + "." + b64(signature)


def signed(payload: dict) -> str:
    return signed_text(json.dumps(payload))


# --- item 4: the token category (`cat`) --------------------------------------------------------
# Clerk's SDK (clerk/javascript packages/backend/src/tokens/jwtCategories.ts): a session token
# carries cl_B7d4PD111AAA; cl_I7d4PD111III means "ignore"; no `cat` at all is a token minted
# before categories existed. Anything else is another class of token signed by the same key.


@pytest.mark.parametrize("cat", ["cl_B7d4PD111AAA", "cl_I7d4PD111III", None])
def test_session_and_ignore_categories_are_accepted(cat):
    headers = {"cat": cat} if cat is not None else {}
    assert get(make_token(headers=headers)).status_code == 200


@pytest.mark.parametrize(
    "cat",
    [
        "cl_B7d4PD333AAA",  # machine-to-machine token
        "cl_B7d4PD222AAA",  # JWT template
        "cl_b7d4pd111aaa",  # categories are compared exactly
        "",
        7,
        ["cl_B7d4PD111AAA"],
    ],
)
def test_other_token_categories_are_401(cat):
    assert_401(get(make_token(headers={"cat": cat})), "Token category is not a session token.")


# --- item 4: NumericDate claims are JSON numbers (RFC 7519 section 2) ---------------------------


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("kind", ["string", "true", "false"])
def test_dates_that_are_not_numbers_are_401(claim, kind):
    now = int(time.time())
    value = {"exp": now + 60, "nbf": now - 5, "iat": now - 5}[claim]
    odd = {"string": str(value), "true": True, "false": False}[kind]
    assert_401(get(signed(claims_for("user_dates", **{claim: odd}))), "Token is malformed.")


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
def test_fractional_dates_are_numbers_too(claim):
    now = time.time()
    value = {"exp": now + 60, "nbf": now - 5, "iat": now - 5}[claim]
    assert get(signed(claims_for("user_dates", **{claim: value}))).status_code == 200


@pytest.mark.parametrize("literal", ["1e400", "-1e400", "1" + "0" * 400, "NaN", "Infinity"])
@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
def test_dates_beyond_any_clock_are_401(claim, literal):
    claims = claims_for("user_dates")
    claims.pop(claim)
    text = json.dumps(claims)[:-1] + f', "{claim}": {literal}}}'
    assert_401(get(signed_text(text)))


# --- item 5: a `sub` no database can store ----------------------------------------------------


@pytest.mark.parametrize("sub", ["\ud800", "user_\udfff", "user_\x00", "user_\n"])
def test_subject_with_unstorable_characters_is_401(sub):
    assert_401(get(signed(claims_for(sub))), "Token subject or session id is malformed.")
    assert not get_user_model().objects.filter(username__contains="user_").exists()


def test_session_id_with_a_lone_surrogate_is_401():
    assert_401(get(signed(claims_for("user_ok", sid="sess_\ud800"))))


# --- item 6: Clerk users and local staff accounts never collide -------------------------------


def test_subject_equal_to_a_staff_username_gets_its_own_account():
    User = get_user_model()
    staff = User.objects.create_user("staff", password="a-long-staff-passphrase", is_staff=True)
    for _ in range(2):
        assert get(make_token("staff")).status_code == 200
    clerk_user = User.objects.get(clerk_user_id="staff")
    assert clerk_user.pk != staff.pk
    staff.refresh_from_db()
    assert staff.clerk_user_id is None
    assert staff.check_password("a-long-staff-passphrase")


def test_clerk_usernames_live_in_a_namespace_staff_cannot_use(admin_client):
    from accounts.services import username_for

    assert username_for("user_2abc") == "clerk:user_2abc"
    assert len(username_for("user_" + "x" * 300)) <= 150
    # The admin's own form refuses the namespace (the username validator has no ':'), and the
    # database refuses it for any local account, however it is written.
    response = admin_client.post(
        "/admin/accounts/user/add/",
        {"username": "clerk:user_2abc", "password1": "x-Long-pass-1", "password2": "x-Long-pass-1"},
    )
    assert response.status_code == 200
    assert not get_user_model().objects.filter(username="clerk:user_2abc").exists()
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        get_user_model().objects.create(username="clerk:user_2abc")

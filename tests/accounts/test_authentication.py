"""Clerk session tokens, verified for real: RS256 signatures made with keys the tests generate, and
signing keys fetched over real HTTP from a JWKS server the tests run on 127.0.0.1."""

import json
import threading
import time

import jwt
import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from accounts import clerk
from tests import environment
from tests.tokens import b64, make_token, new_key, public_jwk

pytestmark = pytest.mark.django_db

GOALS = "/api/v1/goals"


def get(token: str | None = None, header: str | None = None):
    client = APIClient()
    if header is not None:
        client.credentials(HTTP_AUTHORIZATION=header)
    elif token is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client.get(GOALS)


def assert_401(response, reason: str | None = None):
    assert response.status_code == 401, response.content
    assert response["WWW-Authenticate"].startswith("Bearer")
    body = response.json()
    assert set(body) == {"detail"}
    if reason is not None:
        assert body["detail"] == reason


def test_valid_token_is_accepted_and_creates_the_user():
    response = get(make_token("user_new"))
    assert response.status_code == 200
    user = get_user_model().objects.get(clerk_user_id="user_new")
    assert not user.has_usable_password()
    assert user.username == "clerk:user_new"  # never a local staff name (test_token_claims)


def test_second_request_finds_the_user_without_a_write(django_assert_num_queries):
    token = make_token("user_again")
    assert get(token).status_code == 200
    # Known user within the cache TTL: no user query at all; an empty list costs one COUNT.
    with django_assert_num_queries(1) as captured:
        assert get(token).status_code == 200
    assert '"users"' not in captured.captured_queries[0]["sql"]
    assert get_user_model().objects.filter(clerk_user_id="user_again").count() == 1


def test_no_header_is_401_with_www_authenticate():
    assert_401(get(), "Authentication credentials were not provided.")


@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "Bearer a b"])
def test_malformed_bearer_header_is_401(header):
    assert_401(get(header=header))


@pytest.mark.parametrize("header", ["Token abc", "Basic dXNlcjpwYXNz"])
def test_other_schemes_are_not_credentials(header):
    assert_401(get(header=header), "Authentication credentials were not provided.")


@pytest.mark.parametrize(
    "token",
    ["garbage", "a.b.c", "....", "eyJhbGciOiJSUzI1NiJ9.e30", b64(b"{}") + "." + b64(b"{}") + "."],
)
def test_garbage_is_401(token):
    assert_401(get(token))


def test_non_ascii_token_is_401():
    assert_401(get(header="Bearer t\u00f6ken"))


def test_expired_token_is_401():
    past = int(time.time()) - 120
    assert_401(get(make_token(exp=past, iat=past - 60, nbf=past - 60)), "Token has expired.")


def test_a_remembered_token_still_expires(settings):
    settings.CLERK_CLOCK_SKEW_SECONDS = 0
    token = make_token(exp=int(time.time()) + 2)
    assert get(token).status_code == 200
    assert get(token).status_code == 200  # remembered: no second signature check
    time.sleep(2.5)
    assert_401(get(token), "Token has expired.")


def test_verification_is_remembered_per_token(monkeypatch):
    token = make_token()
    assert get(token).status_code == 200
    calls = []
    original = clerk._verify_in_full
    monkeypatch.setattr(clerk, "_verify_in_full", lambda t: calls.append(t) or original(t))
    assert get(token).status_code == 200
    assert calls == []
    assert get(make_token("user_other")).status_code == 200
    assert len(calls) == 1


def test_not_yet_valid_token_is_401():
    assert_401(get(make_token(nbf=int(time.time()) + 120)), "Token is not yet valid.")


def test_expiry_within_the_clock_skew_is_accepted():
    assert get(make_token(exp=int(time.time()) - 2)).status_code == 200


def test_expiry_beyond_the_clock_skew_is_401(settings):
    settings.CLERK_CLOCK_SKEW_SECONDS = 5
    assert_401(get(make_token(exp=int(time.time()) - 10)), "Token has expired.")


def test_not_before_within_the_clock_skew_is_accepted():
    assert get(make_token(nbf=int(time.time()) + 2)).status_code == 200


def test_issued_in_the_future_is_401():
    assert_401(get(make_token(iat=int(time.time()) + 120)), "Token is not yet valid.")


@pytest.mark.parametrize("claim", ["exp", "sub", "sid"])
def test_required_claims(claim):
    assert_401(get(make_token(**{claim: None})), f"Token is missing the '{claim}' claim.")


@pytest.mark.parametrize("sub", ["", 42, "x" * 256])
def test_malformed_subject_is_401(sub):
    assert_401(get(make_token(sub=sub)))


def test_issuer_is_checked_when_configured(settings):
    settings.CLERK_ISSUER = "https://clerk.example.test"
    assert get(make_token()).status_code == 200
    assert_401(get(make_token(iss="https://evil.example")), "Token issuer is not accepted.")
    assert_401(get(make_token(iss=None)), "Token is missing the 'iss' claim.")


def test_authorized_party_is_checked_when_configured(settings):
    settings.CLERK_AUTHORIZED_PARTIES = ["https://app.example.test", "http://localhost:3000"]
    assert get(make_token()).status_code == 200
    assert get(make_token(azp="http://localhost:3000")).status_code == 200
    reason = "Token authorized party is not accepted."
    assert_401(get(make_token(azp="https://evil.example")), reason)
    assert_401(get(make_token(azp=None)), reason)


def test_alg_none_is_401():
    header = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    payload = b64(json.dumps({"sub": "user_a", "sid": "s", "exp": int(time.time()) + 60}).encode())
    assert_401(get(f"{header}.{payload}."), "Token algorithm is not accepted (RS256 only).")


def test_hs256_signed_with_the_public_key_is_401():
    """The classic algorithm-confusion attack: HMAC keyed with the RSA public key."""
    now = int(time.time())
    signing_input = (
        b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": environment.KEY_ID}).encode())
        + "."
        + b64(json.dumps({"sub": "user_a", "sid": "s", "exp": now + 60}).encode())
    )
    import hashlib
    import hmac

    signature = hmac.new(environment.PUBLIC_PEM.encode(), signing_input.encode(), hashlib.sha256)
    token = signing_input + "." + b64(signature.digest())
    assert_401(get(token), "Token algorithm is not accepted (RS256 only).")


def test_token_signed_by_another_key_is_401():
    assert_401(get(make_token(key=new_key())), "Token signature is invalid.")


def test_tampered_payload_is_401():
    header, _, signature = make_token("user_a").split(".")
    forged = b64(json.dumps({"sub": "user_admin", "sid": "s", "exp": 9999999999}).encode())
    assert_401(get(f"{header}.{forged}.{signature}"), "Token signature is invalid.")


def test_typ_other_than_jwt_is_401():
    assert_401(get(make_token(headers={"typ": "at+jwt"})), "Token type is not JWT.")


def test_oversized_token_is_401_before_parsing():
    assert_401(get("e" * (8 * 1024 + 1)), "Token is too large.")


def test_deeply_nested_header_is_401():
    header = b64(b'{"alg":"RS256","x":' + b"[" * 5000 + b"]" * 5000 + b"}")
    assert_401(get(f"{header}.e30.c2ln"))


def test_deeply_nested_payload_is_401():
    token = make_token(nested=json.loads("[" * 50 + "]" * 50))
    assert get(token).status_code == 200  # moderate nesting is fine
    header = token.split(".")[0]
    payload = b64(b'{"sub":' + b"[" * 3000 + b"]" * 3000 + b"}")
    assert_401(get(f"{header}.{payload}.c2ln"))


def test_inactive_user_is_401():
    get_user_model().objects.create(
        username="user_banned", clerk_user_id="user_banned", is_active=False
    )
    assert_401(get(make_token("user_banned")), "User account is disabled.")


def test_unknown_subject_far_longer_than_a_username_still_gets_an_account():
    sub = "user_" + "x" * 200
    assert get(make_token(sub)).status_code == 200
    user = get_user_model().objects.get(clerk_user_id=sub)
    assert len(user.username) <= 150


# --- JWKS ---------------------------------------------------------------------------------------


@pytest.fixture
def jwks(jwks_server, settings):
    """Point the service at the test JWKS server, serving the suite's key as "kid_1"."""
    settings.CLERK_JWT_KEY = None
    settings.CLERK_JWKS_URL = jwks_server.url
    settings.CLERK_JWKS_TIMEOUT_SECONDS = 1.0
    settings.CLERK_JWKS_MIN_REFETCH_SECONDS = 5.0
    jwks_server.document = {"keys": [public_jwk(environment.PRIVATE_KEY, "kid_1")]}
    return jwks_server


def test_jwks_key_is_fetched_over_http_and_cached(jwks):
    for _ in range(3):
        assert get(make_token(kid="kid_1")).status_code == 200
    assert jwks.requests == 1


def test_jwks_token_without_kid_is_401(jwks):
    assert_401(get(make_token(kid=None)), "Token header has no key id (kid).")


@pytest.mark.parametrize("kid", ["kid_unknown", "../../etc/passwd", "' OR 1=1 --", "x" * 201])
def test_jwks_unknown_or_hostile_kid_is_401(jwks, kid):
    assert_401(get(make_token(kid=kid)))


@pytest.mark.parametrize("kid", [7, None, ["kid_1"], {"$ne": ""}])
def test_non_string_kid_is_401(jwks, kid):
    # PyJWT refuses to encode these, so the token is put together by hand.
    header = b64(json.dumps({"alg": "RS256", "typ": "JWT", "kid": kid}).encode())
    payload = b64(json.dumps({"sub": "user_a", "sid": "s", "exp": int(time.time()) + 60}).encode())
    assert_401(get(f"{header}.{payload}.c2ln"))


def test_key_rotation_accepts_a_new_kid_after_one_refetch(jwks):
    assert get(make_token(kid="kid_1")).status_code == 200
    rotated = new_key()
    jwks.document = {
        "keys": [public_jwk(environment.PRIVATE_KEY, "kid_1"), public_jwk(rotated, "kid_2")]
    }
    clerk.key_source()._attempted_at -= 10  # the rotation comes later than the refetch interval
    assert get(make_token(kid="kid_2", key=rotated)).status_code == 200
    assert jwks.requests == 2


def test_random_kids_cause_a_bounded_number_of_fetches(jwks, settings):
    import uuid

    settings.CLERK_JWKS_MIN_REFETCH_SECONDS = 60  # longer than the loop takes on a slow machine
    assert get(make_token(kid="kid_1")).status_code == 200
    for _ in range(200):
        assert get(make_token(kid=uuid.uuid4().hex)).status_code == 401
    assert jwks.requests == 1  # the warm-up; unknown kids refetch at most once a minute here


def test_jwks_down_with_a_warm_cache_still_accepts_known_keys(jwks, settings):
    assert get(make_token(kid="kid_1")).status_code == 200
    jwks.mode = "down"
    source = clerk.key_source()
    source._fetched_at -= settings.CLERK_JWKS_CACHE_SECONDS + 1  # the cached set has expired
    source._attempted_at -= settings.CLERK_JWKS_MIN_REFETCH_SECONDS + 1
    assert get(make_token(kid="kid_1")).status_code == 200
    assert jwks.requests == 2  # it did try to refresh


def test_removed_key_stops_being_trusted_after_the_ttl(jwks, settings):
    assert get(make_token(kid="kid_1")).status_code == 200
    jwks.document = {"keys": [public_jwk(new_key(), "kid_other")]}
    source = clerk.key_source()
    source._fetched_at -= settings.CLERK_JWKS_CACHE_SECONDS + 1
    source._attempted_at -= settings.CLERK_JWKS_MIN_REFETCH_SECONDS + 1
    assert_401(get(make_token(kid="kid_1")), "Token is signed with an unknown key.")


def assert_503(response):
    assert response.status_code == 503
    assert response["Retry-After"]
    assert response.json() == {
        "detail": "The authentication key service is unavailable; try again shortly."
    }


def test_jwks_down_with_a_cold_cache_is_503(jwks):
    jwks.mode = "down"
    assert_503(get(make_token(kid="kid_1")))


def test_jwks_unreachable_is_503(settings):
    settings.CLERK_JWT_KEY = None
    settings.CLERK_JWKS_URL = "http://127.0.0.1:9/jwks.json"  # nothing listens on discard
    assert_503(get(make_token(kid="kid_1")))


def test_jwks_serving_garbage_is_503(jwks):
    jwks.document = {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}
    assert_503(get(make_token(kid="kid_1")))


def test_jwks_hanging_is_503_within_the_timeout(jwks):
    jwks.mode = "hang"
    jwks.hang_seconds = 3
    started = time.monotonic()
    assert_503(get(make_token(kid="kid_1")))
    # Bounded by CLERK_JWKS_TIMEOUT_SECONDS (1 s here), not by the server's 3 s.
    assert time.monotonic() - started < 2.5


def test_jwks_cold_failure_is_not_retried_on_every_request(jwks):
    jwks.mode = "down"
    for _ in range(20):
        assert get(make_token(kid="kid_1")).status_code == 503
    assert jwks.requests == 1


def test_concurrent_cold_requests_fetch_once(jwks):
    results = []

    def call():
        results.append(clerk.verify(make_token(kid="kid_1")).sub)

    threads = [threading.Thread(target=call) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ["user_a"] * 10
    assert jwks.requests == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_requests_create_exactly_one_user(live_server):
    """20 first requests for a new sub at once, over real HTTP, in real threads."""
    import requests

    token = make_token("user_stampede")
    barrier = threading.Barrier(20)
    statuses = []

    def call():
        barrier.wait()
        response = requests.get(
            f"{live_server.url}{GOALS}", headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=call) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 20
    assert get_user_model().objects.filter(clerk_user_id="user_stampede").count() == 1


def test_static_pem_key_ignores_kid():
    assert get(make_token(kid="whatever")).status_code == 200
    assert get(make_token(kid=None)).status_code == 200


def test_jwt_library_is_real():
    """Guards against a stubbed verifier: a token for one key never verifies with another."""
    token = make_token()
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, new_key().public_key(), algorithms=["RS256"])

"""The key service cannot hold a worker (issue #12, item 3).

A JWKS server of the tests' own (tests/conftest.py ``JWKSServer``) drips its answer one byte at a
time or sends an endless body; the service must give up at its deadline or byte cap, keep serving
the keys it knows to every other request of the process meanwhile, and say 503 (with
``Retry-After``), not 401, for a token whose key it could not look up.

Bounds are asserted as orders of magnitude (a fetch that would take a minute answers in seconds),
and "not delayed" as an order of events (the answer came while the fetch was still running).
"""

import json
import threading
import time
from pathlib import Path

import pytest
import requests

from accounts import clerk
from tests import environment
from tests.accounts.test_authentication import assert_503, get
from tests.tokens import make_token, new_key, public_jwk

pytestmark = pytest.mark.django_db

GOALS = "/api/v1/goals"
DEADLINE = 1.0


@pytest.fixture
def jwks(jwks_server, settings):
    settings.CLERK_JWT_KEY = None
    settings.CLERK_JWKS_URL = jwks_server.url
    settings.CLERK_JWKS_TIMEOUT_SECONDS = DEADLINE
    settings.CLERK_JWKS_MIN_REFETCH_SECONDS = 0.0  # every unknown kid may refetch: worst case
    jwks_server.document = {"keys": [public_jwk(environment.PRIVATE_KEY, "kid_1")]}
    return jwks_server


def wait_until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


@pytest.mark.parametrize("mode", ["drip", "drip_headers"])
def test_a_dripping_key_service_is_given_up_at_the_deadline(jwks, mode):
    """The body (or the headers) would take minutes at one byte every half second."""
    jwks.mode = mode
    started = time.monotonic()
    assert_503(get(make_token(kid="kid_1")))
    elapsed = time.monotonic() - started
    assert elapsed < DEADLINE + 2, elapsed  # the drip alone would need over 100 s


def peak_rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def reset_peak_rss() -> None:
    # Linux: writing 5 to clear_refs resets the peak resident set size (VmHWM).
    Path("/proc/self/clear_refs").write_text("5")


@pytest.mark.parametrize("mode", ["huge", "huge_declared"])
def test_a_huge_key_set_is_cut_off_at_the_byte_cap(jwks, settings, mode):
    """256 MB offered; the service reads at most its cap (64 KiB) and its memory stays flat."""
    jwks.mode = mode
    reset_peak_rss()
    before = peak_rss_kib()
    assert_503(get(make_token(kid="kid_1")))
    grown_mib = (peak_rss_kib() - before) / 1024
    assert grown_mib < 32, f"peak RSS grew by {grown_mib:.0f} MiB"
    # What the client accepted: the cap plus the kernel's socket buffers, not the 256 MB.
    time.sleep(0.2)
    assert jwks.bytes_sent < 32 * 1024 * 1024, jwks.bytes_sent
    assert settings.CLERK_JWKS_MAX_BYTES == 64 * 1024


def test_unknown_kid_while_the_key_set_cannot_be_refreshed_is_503(jwks):
    """The token may well be valid (a key rotation): our failure, not the caller's."""
    assert get(make_token(kid="kid_1")).status_code == 200
    jwks.mode = "down"
    response = get(make_token(kid="kid_rotated", key=new_key()))
    assert_503(response)
    assert response["Retry-After"] == "5"


def test_unknown_kid_after_a_successful_refresh_is_still_401(jwks):
    from tests.accounts.test_authentication import assert_401

    assert get(make_token(kid="kid_1")).status_code == 200
    assert_401(get(make_token(kid="kid_nope")), "Token is signed with an unknown key.")


def live_get(live_server, token: str, results: list, name: str, jwks=None) -> None:
    response = requests.get(
        f"{live_server.url}{GOALS}", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    fetch_running = jwks.active > 0 if jwks is not None else None
    results.append((name, response.status_code, fetch_running))


@pytest.mark.django_db(transaction=True)
def test_a_known_kid_is_served_while_an_expired_key_set_is_being_refetched(
    jwks, live_server, settings
):
    """The key set's TTL has passed and its refresh drips: requests with a known kid are served
    from the set in hand, at once, instead of queueing behind the fetch."""
    settings.CLERK_JWKS_TIMEOUT_SECONDS = 3.0
    assert get(make_token(kid="kid_1")).status_code == 200  # warm this process's key set
    source = clerk.key_source()
    source._fetched_at -= settings.CLERK_JWKS_CACHE_SECONDS + 1
    jwks.mode = "drip"
    results = []
    refresher = threading.Thread(
        target=live_get, args=(live_server, make_token("user_a", kid="kid_1"), results, "first")
    )
    refresher.start()
    wait_until(lambda: jwks.active == 1)  # the refresh is under way
    for index in range(3):
        live_get(live_server, make_token(f"user_{index}", kid="kid_1"), results, "other", jwks)
    refresher.join()
    others = [result for result in results if result[0] == "other"]
    assert others == [("other", 200, True)] * 3  # answered while the fetch was still running
    assert ("first", 200, None) in results  # the stale key set still served the refresher


@pytest.mark.django_db(transaction=True)
def test_an_unknown_kid_does_not_queue_behind_a_slow_fetch(jwks, live_server, settings):
    """One thread fetches for a new kid; another new kid gets its 503 after a short wait, not
    after the fetch; a known kid is not delayed at all."""
    settings.CLERK_JWKS_TIMEOUT_SECONDS = 3.0
    assert get(make_token(kid="kid_1")).status_code == 200
    jwks.mode = "drip"
    results = []
    fetcher = threading.Thread(
        target=live_get, args=(live_server, make_token(kid="kid_new"), results, "fetcher")
    )
    fetcher.start()
    wait_until(lambda: jwks.active == 1)
    live_get(live_server, make_token(kid="kid_other_new"), results, "waiter", jwks)
    live_get(live_server, make_token(kid="kid_1"), results, "known", jwks)
    fetcher.join()
    assert ("waiter", 503, True) in results
    assert ("known", 200, True) in results
    assert ("fetcher", 503, None) in results
    assert jwks.requests == 2  # the warm-up and one fetch: the waiter did not start another


# --- over TLS, as in production ----------------------------------------------------------------


@pytest.fixture
def tls_jwks(jwks_server, tmp_path):
    """The same JWKS server behind TLS, with a certificate for 127.0.0.1 made here."""
    import datetime
    import ipaddress
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    key = new_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert_file, key_file)
    jwks_server.httpd.socket = server_context.wrap_socket(
        jwks_server.httpd.socket, server_side=True
    )
    jwks_server.document = {"keys": [public_jwk(environment.PRIVATE_KEY, "kid_1")]}
    trusting = ssl.create_default_context(cafile=str(cert_file))
    return jwks_server, jwks_server.url.replace("http://", "https://"), trusting


def test_keys_are_fetched_over_tls(tls_jwks, monkeypatch):
    from accounts import jwks

    _, url, trusting = tls_jwks
    monkeypatch.setattr(jwks, "_tls_context", lambda: trusting)
    body = jwks.fetch(url, deadline=DEADLINE, max_bytes=64 * 1024)
    assert set(jwks.usable_keys(json.loads(body))) == {"kid_1"}


def test_a_certificate_nobody_vouches_for_is_refused(tls_jwks):
    from accounts import jwks

    _, url, _ = tls_jwks
    with pytest.raises(jwks.FetchError, match="CERTIFICATE_VERIFY_FAILED"):
        jwks.fetch(url, deadline=DEADLINE, max_bytes=64 * 1024)


def test_a_dripping_tls_server_is_given_up_at_the_deadline(tls_jwks, monkeypatch):
    from accounts import jwks

    server, url, trusting = tls_jwks
    monkeypatch.setattr(jwks, "_tls_context", lambda: trusting)
    server.mode = "drip"
    started = time.monotonic()
    with pytest.raises(jwks.FetchError, match="within 1 s"):
        jwks.fetch(url, deadline=DEADLINE, max_bytes=64 * 1024)
    assert time.monotonic() - started < DEADLINE + 2


def test_a_compressed_answer_nobody_asked_for_is_refused(jwks, caplog):
    """A few KB of gzip can inflate to gigabytes: the service asks for identity and takes only
    that, so the byte cap is a cap on what it holds."""
    jwks.mode = "gzip"
    assert_503(get(make_token(kid="kid_1")))
    assert "unrequested Content-Encoding 'gzip'" in caplog.text


def test_only_http_and_https_urls_are_fetched():
    from accounts import jwks

    for url in ("ftp://127.0.0.1/jwks.json", "file:///etc/passwd", "http:///nohost"):
        with pytest.raises(jwks.FetchError, match="not an http"):
            jwks.fetch(url, deadline=DEADLINE, max_bytes=1024)


@pytest.mark.parametrize(
    "document",
    [
        [],
        "keys",
        {"keys": "x"},
        {"keys": []},
        {"keys": [{"kty": "oct"}]},
        {"keys": [{"kty": "RSA", "kid": "k", "n": "AQAB"}]},
        {"keys": [{"kty": "RSA", "kid": "k", "use": "enc", "n": "AQAB", "e": "AQAB"}]},
    ],
)
def test_a_document_without_rsa_signing_keys_is_refused(document):
    from accounts import jwks

    with pytest.raises(ValueError, match="JWKS"):
        jwks.usable_keys(document)


def test_a_key_set_with_an_unreadable_key_is_503_not_500(jwks):
    """PyJWT raises KeyError, not one of its own errors, for an "oct" key without "k"."""
    jwks.document = {"keys": [{"kty": "oct", "kid": "kid_1"}]}
    assert_503(get(make_token(kid="kid_1")))


def test_an_unreadable_key_does_not_hide_the_good_ones(jwks):
    jwks.document = {
        "keys": [
            {"kty": "RSA", "kid": "kid_broken", "n": "!!"},
            {"kty": "oct", "kid": "kid_hmac"},
            public_jwk(environment.PRIVATE_KEY, "kid_1"),
        ]
    }
    assert get(make_token(kid="kid_1")).status_code == 200

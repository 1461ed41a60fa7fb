"""Verifying Clerk session tokens locally, without a call to Clerk per request.

Mirrors what Clerk's own SDKs check (clerk/javascript ``packages/backend/src/jwt/verifyJwt.ts``,
clerk-sdk-python ``verifytoken.py``), and is stricter where they are lax:

- RS256 only, whatever the token's header says (no ``none``, no HMAC keyed with the public key);
- ``exp`` required, ``nbf`` and ``iat`` checked when present, all with ``CLERK_CLOCK_SKEW_SECONDS``;
- ``sub`` and ``sid`` required: every Clerk *session* token carries a session id;
- ``iss`` must equal ``CLERK_ISSUER`` when it is set (the SDKs do not check it);
- ``azp`` must be one of ``CLERK_AUTHORIZED_PARTIES`` when the list is set; missing is rejected;
- a ``typ`` header other than ``JWT`` and tokens over 8 KiB are rejected before any parsing.

Keys come from a PEM (``CLERK_JWT_KEY``, no network) or a JWKS URL (``CLERK_JWKS_URL``), cached
in-process; see ``JWKSKeys``.
"""

import logging
import threading
import time
from dataclasses import dataclass
from functools import cache

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

logger = logging.getLogger(__name__)

ALGORITHMS = ["RS256"]
MAX_TOKEN_BYTES = 8 * 1024
MAX_KID_LENGTH = 200


class InvalidToken(Exception):
    """The token is not a valid Clerk session token for this service; ``str()`` is the reason."""


class KeyServiceUnavailable(Exception):
    """The JWKS could not be fetched and no usable key is cached: the failure is ours, not the token's."""


@dataclass(frozen=True)
class Claims:
    sub: str
    sid: str
    raw: dict


class StaticKey:
    """``CLERK_JWT_KEY``: one PEM public key, any ``kid`` (Clerk's networkless verification)."""

    def __init__(self, pem: str):
        try:
            key = load_pem_public_key(pem.encode())
        except ValueError as exc:
            raise ImproperlyConfigured(f"CLERK_JWT_KEY is not a PEM public key: {exc}") from None
        if not isinstance(key, RSAPublicKey):
            raise ImproperlyConfigured(
                "CLERK_JWT_KEY must be an RSA public key (Clerk signs RS256)."
            )
        self._key = key

    def get(self, kid: str | None) -> RSAPublicKey:
        return self._key


class JWKSKeys:
    """Keys from a JWKS URL, cached per process.

    - A fetched set is trusted for ``ttl`` seconds; after that the next request refetches, so a key
      removed from the JWKS stops being accepted at most ``ttl`` seconds later.
    - An unknown ``kid`` (key rotation) refetches at once, but at most once per ``min_refetch``
      seconds per process: a flood of random ``kid`` values cannot become a flood of fetches.
    - A failed refresh keeps the last good set; with no set at all it is ``KeyServiceUnavailable``.
    """

    def __init__(self, url: str, *, ttl: float, timeout: float, min_refetch: float):
        self.url = url
        self.ttl = ttl
        self.timeout = timeout
        self.min_refetch = min_refetch
        self._keys: dict[str, object] | None = None
        self._fetched_at = float("-inf")
        self._attempted_at = float("-inf")
        self._lock = threading.Lock()
        self.fetch_count = 0  # observability, and what the tests count

    def get(self, kid: str | None):
        if kid is None:
            raise InvalidToken("Token header has no key id (kid).")
        keys = self._keys
        if keys is not None and kid in keys and not self._expired():
            return keys[kid]
        with self._lock:
            # Another thread may have refreshed while this one waited for the lock.
            if self._keys is None or kid not in self._keys or self._expired():
                self._maybe_refresh()
            keys = self._keys
        if keys is None:
            raise KeyServiceUnavailable("The signing keys could not be fetched.")
        try:
            return keys[kid]
        except KeyError:
            raise InvalidToken("Token is signed with an unknown key.") from None

    def _expired(self) -> bool:
        return time.monotonic() - self._fetched_at >= self.ttl

    def _maybe_refresh(self) -> None:
        now = time.monotonic()
        if now - self._attempted_at < self.min_refetch:
            return
        self._attempted_at = now
        self.fetch_count += 1
        try:
            response = requests.get(self.url, timeout=self.timeout)
            response.raise_for_status()
            keys = _usable_keys(response.json())
        except (requests.RequestException, ValueError, jwt.PyJWKSetError) as exc:
            # ValueError covers a body that is not JSON; keep whatever we had.
            logger.warning("JWKS fetch from %s failed: %s", self.url, exc)
            return
        self._keys = keys
        self._fetched_at = time.monotonic()


def _usable_keys(document: dict) -> dict:
    """The RS256 signing keys of a JWKS document, by ``kid``."""
    if not isinstance(document, dict):
        raise ValueError("JWKS is not a JSON object")
    keyset = jwt.PyJWKSet.from_dict(document)
    keys = {
        key.key_id: key.key
        for key in keyset.keys
        if key.key_id and key.key_type == "RSA" and key.public_key_use in (None, "sig")
    }
    if not keys:
        raise ValueError("JWKS has no RSA signing key with a kid")
    return keys


@cache
def key_source() -> StaticKey | JWKSKeys:
    """The key source the settings describe; rebuilt when a test overrides a CLERK_* setting."""
    if settings.CLERK_JWT_KEY:
        return StaticKey(settings.CLERK_JWT_KEY)
    if settings.CLERK_JWKS_URL:
        return JWKSKeys(
            settings.CLERK_JWKS_URL,
            ttl=settings.CLERK_JWKS_CACHE_SECONDS,
            timeout=settings.CLERK_JWKS_TIMEOUT_SECONDS,
            min_refetch=settings.CLERK_JWKS_MIN_REFETCH_SECONDS,
        )
    raise ImproperlyConfigured("Set CLERK_JWT_KEY or CLERK_JWKS_URL.")


def _reset_key_source(*, setting: str, **kwargs) -> None:
    if setting.startswith("CLERK_"):
        key_source.cache_clear()


setting_changed.connect(_reset_key_source)


_REASONS = [
    # Order matters: these are subclasses of one another.
    (jwt.ExpiredSignatureError, "Token has expired."),
    (jwt.ImmatureSignatureError, "Token is not yet valid."),
    (jwt.InvalidSignatureError, "Token signature is invalid."),
    (jwt.InvalidIssuerError, "Token issuer is not accepted."),
    (jwt.InvalidAlgorithmError, "Token algorithm is not accepted (RS256 only)."),
]


@dataclass(frozen=True)
class _Verified:
    claims: Claims
    kid: str | None
    key: object
    until: float  # monotonic time after which the token is verified again in full


_verified: dict[str, _Verified] = {}
_VERIFIED_MAX_ENTRIES = 10_000
_VERIFIED_SECONDS = 60.0


def verify(token: str) -> Claims:
    """The claims of a valid Clerk session token; ``InvalidToken`` with a short reason otherwise.

    A client sends the same token with every request until it refreshes it (Clerk: every minute),
    so a verified token is remembered for up to a minute: the signature is a pure function of
    the token and the key, and what can change since (``exp`` passing; the key rotated out of
    the key set) is checked again on every use. ``nbf`` and ``iat`` held then and still hold.
    """
    if len(token) > MAX_TOKEN_BYTES:
        raise InvalidToken("Token is too large.")
    hit = _verified.get(token)
    if hit is not None and time.monotonic() < hit.until and _still_current(hit):
        return hit.claims
    claims, kid, key = _verify_in_full(token)
    if len(_verified) >= _VERIFIED_MAX_ENTRIES:
        _verified.clear()
    _verified[token] = _Verified(claims, kid, key, time.monotonic() + _VERIFIED_SECONDS)
    return claims


def _still_current(hit: _Verified) -> bool:
    now = time.time()
    leeway = settings.CLERK_CLOCK_SKEW_SECONDS
    raw = hit.claims.raw
    if raw["exp"] < now - leeway:
        raise InvalidToken("Token has expired.")
    # The key that verified it must still be the one the key source gives for its kid.
    return key_source().get(hit.kid) is hit.key


def forget_verified_tokens(**kwargs) -> None:
    _verified.clear()


setting_changed.connect(forget_verified_tokens)


def _verify_in_full(token: str) -> tuple[Claims, str | None, object]:
    try:
        header = jwt.get_unverified_header(token)
    except (jwt.InvalidTokenError, RecursionError):
        raise InvalidToken("Token is malformed.") from None
    if header.get("alg") not in ALGORITHMS:
        raise InvalidToken("Token algorithm is not accepted (RS256 only).")
    if "typ" in header and header["typ"] != "JWT":
        raise InvalidToken("Token type is not JWT.")
    kid = header.get("kid")
    if kid is not None and (not isinstance(kid, str) or len(kid) > MAX_KID_LENGTH):
        raise InvalidToken("Token key id is malformed.")

    key = key_source().get(kid)
    try:
        payload = jwt.decode(
            token,
            key=key,
            algorithms=ALGORITHMS,
            leeway=settings.CLERK_CLOCK_SKEW_SECONDS,
            issuer=settings.CLERK_ISSUER,
            options={"require": ["exp", "sub", "sid"], "verify_aud": False},
        )
    except jwt.MissingRequiredClaimError as exc:
        raise InvalidToken(f"Token is missing the '{exc.claim}' claim.") from None
    except jwt.InvalidTokenError as exc:
        for error_type, reason in _REASONS:
            if isinstance(exc, error_type):
                raise InvalidToken(reason) from None
        raise InvalidToken("Token is malformed.") from None
    except RecursionError:
        raise InvalidToken("Token is malformed.") from None

    parties = settings.CLERK_AUTHORIZED_PARTIES
    if parties and payload.get("azp") not in parties:
        raise InvalidToken("Token authorized party is not accepted.")
    sub, sid = payload["sub"], payload["sid"]
    if not (isinstance(sub, str) and 0 < len(sub) <= 255) or not isinstance(sid, str) or not sid:
        raise InvalidToken("Token subject or session id is malformed.")
    if not isinstance(payload["exp"], int | float):
        raise InvalidToken("Token is malformed.")
    return Claims(sub=sub, sid=sid, raw=payload), kid, key

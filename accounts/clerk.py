"""Verifying Clerk session tokens locally, without a call to Clerk per request.

Mirrors what Clerk's own SDK checks (clerk/javascript ``packages/backend/src/jwt/verifyJwt.ts``
and ``assertions.ts``, ``packages/backend/src/tokens/verify.ts`` and ``jwtCategories.ts``;
clerk-sdk-python ``verifytoken.py``), and is stricter where they are lax:

- RS256 only, whatever the token's header says (no ``none``, no HMAC keyed with the public key);
- a header ``cat`` (Clerk's token category), when present, must be the session category
  ``cl_B7d4PD111AAA`` or ``cl_I7d4PD111III`` ("ignore": instances that stamp every token so);
  machine-to-machine tokens (``cl_B7d4PD333AAA``) and JWT templates signed by the same key are not
  session tokens. Clerk's ``verifyToken`` refuses the M2M category, its ``isNonSessionJwtCategory``
  every other one; we refuse all of them, and accept no ``cat`` (tokens minted before categories);
- ``exp`` required, ``nbf`` and ``iat`` checked when present, all with ``CLERK_CLOCK_SKEW_SECONDS``,
  and all JSON numbers (RFC 7519 section 2, NumericDate; the SDK's ``typeof ... !== 'number'``):
  no numeric strings, no booleans (a Python ``True`` is an ``int``), nothing infinite or past
  the year 9999;
- ``sub`` and ``sid`` required: every Clerk *session* token carries a session id; both printable
  text (no lone surrogate, NUL or control character: PostgreSQL could not store it);
- ``iss`` must equal ``CLERK_ISSUER`` when it is set (the SDKs do not check it);
- ``azp`` must be one of ``CLERK_AUTHORIZED_PARTIES`` when the list is set; missing is rejected;
- a ``typ`` header other than ``JWT`` and tokens over 8 KiB are rejected before any parsing.

Keys come from a PEM (``CLERK_JWT_KEY``, no network) or a JWKS URL (``CLERK_JWKS_URL``), cached
in-process; see ``accounts.jwks``.
"""

import hashlib
import math
import threading
import time
from dataclasses import dataclass
from functools import cache

import jwt
from cachetools import TTLCache
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

from accounts.jwks import InvalidToken, JWKSKeys, KeyServiceUnavailable
from accounts.keys import rsa_public_key

__all__ = ["Claims", "InvalidToken", "KeyServiceUnavailable", "key_source", "verify"]

ALGORITHMS = ["RS256"]
MAX_TOKEN_BYTES = 8 * 1024
MAX_KID_LENGTH = 200
# Clerk's token categories (clerk/javascript packages/backend/src/tokens/jwtCategories.ts).
SESSION_CATEGORIES = ("cl_B7d4PD111AAA", "cl_I7d4PD111III")
NUMERIC_DATES = ("exp", "nbf", "iat")
LATEST_NUMERIC_DATE = 253_402_300_799  # 9999-12-31T23:59:59Z
MAX_ID_LENGTH = 255


@dataclass(frozen=True)
class Claims:
    sub: str
    sid: str
    raw: dict


class StaticKey:
    """``CLERK_JWT_KEY``: one PEM public key, any ``kid`` (Clerk's networkless verification)."""

    def __init__(self, pem: str):
        self._key = rsa_public_key(pem)

    def get(self, kid: str | None) -> RSAPublicKey:
        return self._key


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
            max_bytes=settings.CLERK_JWKS_MAX_BYTES,
            wait=settings.CLERK_JWKS_WAIT_SECONDS,
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


# cachetools' caches are not thread-safe (runserver and gthread workers share this one): every
# use holds this lock (https://cachetools.readthedocs.io/en/latest/#cache-implementations).
_verified_tokens_lock = threading.Lock()


@cache
def _verified_tokens() -> TTLCache:
    """Tokens verified in full lately, by their SHA-256 (a key of 32 bytes, not up to 8 KiB): at
    most CLERK_TOKEN_CACHE_MAX_ENTRIES, each for CLERK_TOKEN_CACHE_SECONDS."""
    return TTLCache(
        maxsize=settings.CLERK_TOKEN_CACHE_MAX_ENTRIES, ttl=settings.CLERK_TOKEN_CACHE_SECONDS
    )


def verify(token: str) -> Claims:
    """The claims of a valid Clerk session token; ``InvalidToken`` with a short reason otherwise.

    A client sends the same token with every request until it refreshes it (Clerk: every minute),
    so a verified token is remembered for up to ``CLERK_TOKEN_CACHE_SECONDS``: the signature is a
    pure function of the token and the key, and what can change since (``exp`` passing; the key
    rotated out of the key set) is checked again on every use. ``nbf`` and ``iat`` held then
    and still hold.
    """
    if len(token) > MAX_TOKEN_BYTES:
        raise InvalidToken("Token is too large.")
    digest = hashlib.sha256(token.encode()).digest()
    with _verified_tokens_lock:
        try:  # [] rather than .get(): a third of the cost on a hit (0.4 against 1.3 µs)
            hit = _verified_tokens()[digest]
        except KeyError:
            hit = None
    if hit is not None and _still_current(hit):
        return hit.claims
    claims, kid, key = _verify_in_full(token)
    verified = _Verified(claims, kid, key)
    with _verified_tokens_lock:
        _verified_tokens()[digest] = verified
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
    _verified_tokens.cache_clear()


setting_changed.connect(forget_verified_tokens)


def is_clerk_id(value) -> bool:
    """A Clerk user or session id this service can store and compare: text of 1 to 255
    printable characters. ``isprintable`` is False for lone surrogates (which no UTF-8 encoder,
    hence no PostgreSQL, accepts: a 500 before), NUL and control characters."""
    return isinstance(value, str) and 0 < len(value) <= MAX_ID_LENGTH and value.isprintable()


def _reason(exc: jwt.InvalidTokenError) -> str:
    for error_type, reason in _REASONS:
        if isinstance(exc, error_type):
            return reason
    return "Token is malformed."


def _dates_are_numbers(payload: dict) -> bool:
    return all(_is_numeric_date(payload[claim]) for claim in NUMERIC_DATES if claim in payload)


def _is_numeric_date(value) -> bool:
    """RFC 7519's NumericDate: a JSON number (``bool`` is an ``int`` in Python, not in JSON)."""
    if type(value) not in (int, float):
        return False
    try:
        return math.isfinite(value) and abs(value) <= LATEST_NUMERIC_DATE
    except OverflowError:  # an int too large for a float
        return False


def _verify_in_full(token: str) -> tuple[Claims, str | None, object]:
    try:
        header = jwt.get_unverified_header(token)
    except (jwt.InvalidTokenError, RecursionError):
        raise InvalidToken("Token is malformed.") from None
    if header.get("alg") not in ALGORITHMS:
        raise InvalidToken("Token algorithm is not accepted (RS256 only).")
    if "typ" in header and header["typ"] != "JWT":
        raise InvalidToken("Token type is not JWT.")
    if "cat" in header and header["cat"] not in SESSION_CATEGORIES:
        raise InvalidToken("Token category is not a session token.")
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
    except (jwt.ExpiredSignatureError, jwt.ImmatureSignatureError) as exc:
        # PyJWT compares int(value) with the clock, so exp: true is "expired" to it. The
        # signature held (PyJWT checks it first): say what is wrong with the claim, as Clerk does.
        if not _dates_are_numbers(jwt.decode(token, options={"verify_signature": False})):
            raise InvalidToken("Token is malformed.") from None
        raise InvalidToken(_reason(exc)) from None
    except jwt.InvalidTokenError as exc:
        raise InvalidToken(_reason(exc)) from None
    except RecursionError:
        raise InvalidToken("Token is malformed.") from None

    parties = settings.CLERK_AUTHORIZED_PARTIES
    if parties and payload.get("azp") not in parties:
        raise InvalidToken("Token authorized party is not accepted.")
    sub, sid = payload["sub"], payload["sid"]
    if not (is_clerk_id(sub) and is_clerk_id(sid)):
        raise InvalidToken("Token subject or session id is malformed.")
    if not _dates_are_numbers(payload):
        raise InvalidToken("Token is malformed.")
    return Claims(sub=sub, sid=sid, raw=payload), kid, key

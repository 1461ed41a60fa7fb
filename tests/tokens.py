"""Real RS256 tokens shaped like Clerk session tokens, signed with keys the tests generate."""

import json
import time

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from tests import environment


def claims_for(sub: str, **overrides) -> dict:
    now = int(time.time())
    claims = {
        "sub": sub,
        "sid": f"sess_{sub}",
        "iat": now,
        "nbf": now,
        "exp": now + 60,
        "iss": "https://clerk.example.test",
        "azp": "https://app.example.test",
    }
    claims.update(overrides)
    return {key: value for key, value in claims.items() if value is not None}


def make_token(
    sub: str = "user_a",
    *,
    key: rsa.RSAPrivateKey | None = None,
    kid: str | None = environment.KEY_ID,
    headers: dict | None = None,
    **claims,
) -> str:
    all_headers = {"kid": kid} if kid is not None else {}
    all_headers.update(headers or {})
    return jwt.encode(
        claims_for(sub, **claims),
        key or environment.PRIVATE_KEY,
        algorithm="RS256",
        headers=all_headers,
    )


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(key: rsa.RSAPrivateKey, kid: str) -> dict:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return {**jwk, "kid": kid, "use": "sig", "alg": "RS256"}


def b64(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

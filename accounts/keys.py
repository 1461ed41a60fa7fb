"""``CLERK_JWT_KEY`` read once, where the settings are read: a key that is not an RSA public
key in PEM stops the start in one line (it was accepted, /readyz said ready, and every
authenticated request was a 500). No Django app code here: delight.settings imports it."""

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from django.core.exceptions import ImproperlyConfigured


def rsa_public_key(pem: str) -> RSAPublicKey:
    try:
        key = load_pem_public_key(pem.encode())
    except ValueError as exc:
        hint = " (that is a private key: paste the public one)" if "PRIVATE" in pem else ""
        raise ImproperlyConfigured(f"CLERK_JWT_KEY is not a PEM public key{hint}: {exc}") from None
    if not isinstance(key, RSAPublicKey):
        raise ImproperlyConfigured("CLERK_JWT_KEY must be an RSA public key (Clerk signs RS256).")
    return key

"""The development signing key: made once under .data/, used only when DEBUG is on and no Clerk key
is configured. Never used in production (settings refuse to start without a real Clerk key)."""

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

DEV_KEY_ID = "delight-dev"


def private_key(path: Path) -> rsa.RSAPrivateKey:
    """Load the key pair at ``path``, making it first if it does not exist."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        # Write to a temporary name and rename: two processes starting at once agree on one key.
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        if not path.exists():
            tmp.replace(path)
        else:
            tmp.unlink()
    return serialization.load_pem_private_key(path.read_bytes(), password=None)


def public_pem(path: Path) -> str:
    return (
        private_key(path)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )

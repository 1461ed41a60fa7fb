"""The suite's environment, set before Django reads its settings (``tests.settings`` imports it
first).

The suite runs with production defaults (DEBUG off), so it needs what production needs: a
database, a secret key and a Clerk key. Without ``DATABASE_URL`` the embedded PostgreSQL under
.data/ is started (or joined) here for the run, and ``DATABASE_URL`` set to it, as manage.py does
(delight.embedded_postgres; importing settings starts nothing). The Clerk key is an RSA pair
generated here, per run; tests sign real RS256 tokens with ``PRIVATE_KEY``. Variables that would
point the suite at a real Clerk instance are removed, so a developer's shell cannot change what
the tests see.
"""

import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

PRIVATE_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PUBLIC_PEM = (
    PRIVATE_KEY.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)
KEY_ID = "ins_test_primary"

for name in ("CLERK_JWKS_URL", "CLERK_ISSUER", "CLERK_AUTHORIZED_PARTIES", "REDIS_URL"):
    os.environ.pop(name, None)
os.environ["DJANGO_DEBUG"] = "0"
os.environ["DJANGO_SECRET_KEY"] = secrets.token_urlsafe(50)
os.environ["CLERK_JWT_KEY"] = PUBLIC_PEM

if not os.environ.get("DATABASE_URL", "").strip():
    from delight import embedded_postgres

    embedded_postgres.start_for_this_process(Path(__file__).resolve().parents[1] / ".data")

import time

import jwt
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts import devkeys


class Command(BaseCommand):
    help = "Print a development session token for USER_ID, signed with the local development key."

    def add_arguments(self, parser):
        parser.add_argument("user_id", help="The Clerk-style user id to sign in as, e.g. user_dev")
        parser.add_argument(
            "--ttl", type=int, default=3600, help="Lifetime in seconds (default 3600)."
        )

    def handle(self, *args, user_id: str, ttl: int, **options):
        if settings.CLERK_DEV_KEY_PATH is None:
            raise CommandError(
                "dev_token needs DJANGO_DEBUG=1 and no CLERK_JWT_KEY/CLERK_JWKS_URL: with a real "
                "Clerk key configured, get tokens from Clerk."
            )
        if not user_id.strip() or ttl < 1:
            raise CommandError("user_id must not be blank and --ttl must be at least 1.")
        self.stdout.write(dev_token(user_id, ttl=ttl))


def dev_token(user_id: str, *, ttl: int = 3600) -> str:
    """A token shaped like a Clerk session token, signed with the development key."""
    now = int(time.time())
    claims = {
        "sub": user_id,
        "sid": f"sess_dev_{user_id}",
        "iat": now,
        "nbf": now,
        "exp": now + ttl,
        "iss": settings.CLERK_ISSUER or "http://localhost:8000",
        "azp": (settings.CLERK_AUTHORIZED_PARTIES or ["http://localhost:8000"])[0],
    }
    key = devkeys.private_key(settings.CLERK_DEV_KEY_PATH)
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": devkeys.DEV_KEY_ID})

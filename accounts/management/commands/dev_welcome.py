from django.conf import settings
from django.core.management.base import BaseCommand

from accounts.management.commands.dev_token import dev_token


class Command(BaseCommand):
    help = "Print the local URLs, a development token and a ready-to-paste curl line (make run)."

    def add_arguments(self, parser):
        parser.add_argument("--port", default="8000")
        parser.add_argument("--user", default="user_dev")

    def handle(self, *args, port: str, user: str, **options):
        base = f"http://127.0.0.1:{port}"
        lines = [
            "",
            f"  API        {base}/api/v1/goals",
            f"  Swagger UI {base}/docs   (Authorize with the token below)",
            f"  ReDoc      {base}/redoc",
            f"  Admin      {base}/admin/  (.venv/bin/python manage.py createsuperuser first)",
            "",
        ]
        if settings.CLERK_DEV_KEY_PATH is not None:
            token = dev_token(user, ttl=24 * 3600)
            lines += [
                f"  Development token for {user} (24 h):",
                f"  {token}",
                "",
                "  Try it:",
                f"  curl -H 'Authorization: Bearer {token}' {base}/api/v1/goals",
                "",
            ]
        else:
            lines.append("  Clerk keys are configured: use a session token from your Clerk app.")
        self.stdout.write("\n".join(lines))

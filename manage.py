#!/usr/bin/env python
"""Django's command-line utility for administrative tasks.

Without ``DATABASE_URL`` this is a developer's machine (the embedded PostgreSQL under .data/):
commands run with ``DJANGO_DEBUG=1`` unless it is set, so ``python manage.py makemigrations``
works as it is. With ``DATABASE_URL`` set (a deployment), the settings' production rules apply
unchanged, and a refusal to start is one line, not a traceback.
"""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "delight.settings")
    if not os.environ.get("DATABASE_URL", "").strip():
        os.environ.setdefault("DJANGO_DEBUG", "1")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        settings.INSTALLED_APPS  # noqa: B018 - load the settings now, to report a refusal plainly
    except ImproperlyConfigured as exc:
        sys.exit(f"manage.py: {exc}")
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()

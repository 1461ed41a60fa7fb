#!/usr/bin/env python
"""Django's command-line utility for administrative tasks.

Without ``DATABASE_URL`` this is a developer's machine: commands run with ``DJANGO_DEBUG=1``
unless it is set, against the embedded PostgreSQL under .data/, which this process starts (or
joins) before the settings load and which stops when the last process using it exits
(delight.embedded_postgres). So ``python manage.py makemigrations`` works as it is. With
``DATABASE_URL`` set (a deployment), the settings' production rules apply unchanged. A refusal to
start is one line, not a traceback.
"""

import os
import sys
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / ".data"  # delight.settings.DATA_DIR


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "delight.settings")
    from django.core.exceptions import ImproperlyConfigured

    try:
        if not os.environ.get("DATABASE_URL", "").strip():
            os.environ.setdefault("DJANGO_DEBUG", "1")
            from delight import embedded_postgres

            embedded_postgres.start_for_this_process(DATA_DIR)
        from django.conf import settings

        settings.INSTALLED_APPS  # noqa: B018 - load the settings now, to report a refusal plainly
    except ImproperlyConfigured as exc:
        sys.exit(f"manage.py: {exc}")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()

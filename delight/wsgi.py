"""WSGI entry point (gunicorn delight.wsgi:application).

Settings load here, so a production process without its secrets or without ``DATABASE_URL``
refuses to start (see settings); it never starts a database itself.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "delight.settings")

application = get_wsgi_application()

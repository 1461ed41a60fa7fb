"""A WSGI application for tests/ops/test_server_hardening.py: the service's, loaded as the
production server loads it (settings read, secrets forgotten), that answers with the names in the
request's WSGI environ instead (``WEB_APPLICATION=tests.ops.environ_app:application``)."""

import json

from delight.wsgi import application as service  # noqa: F401  (the settings, as served)


def application(environ, start_response):
    body = json.dumps(sorted(environ)).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]

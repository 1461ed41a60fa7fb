"""The service's WSGI application as the browser tests serve it: ``delight.wsgi.application``,
with what a worker process caches about database rows forgotten before each request.

Between two tests the test database is emptied and filled again under the running server
(pytest-django's transactional tests flush it), and rows come back with new ids: a worker that
had looked up the goal model's content type (any admin change form does) then wrote the
admin's log with an id that no longer existed, a 500 that depended on which of the two workers
a request reached. A deployed service never sees its rows renumbered under it.
"""

# isort: off
from delight.wsgi import application as service  # first: it sets Django up
from django.contrib.contenttypes.models import ContentType

from accounts.services import clear_user_cache


def application(environ, start_response):
    ContentType.objects.clear_cache()
    clear_user_cache()
    return service(environ, start_response)

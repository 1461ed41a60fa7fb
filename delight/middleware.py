from django.conf import settings
from rest_framework.response import Response

from delight.api import NOT_FOUND, error_response


class BodySizeLimitMiddleware:
    """413 for a declared body over ``MAX_REQUEST_BODY_BYTES``, before anything reads it.

    Django itself raises ``RequestDataTooBig`` only when the body is first read, deep inside a
    view, and answers 400; the contract says 413, and there is no reason to start the work.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.MAX_REQUEST_BODY_BYTES:
            return error_response(
                f"Request body is too large (limit {settings.MAX_REQUEST_BODY_BYTES} bytes).", 413
            )
        return self.get_response(request)


class JSONNotFoundMiddleware:
    """Every 404 outside the admin is the contract's JSON, with DEBUG on as well.

    With DEBUG off Django answers an unknown route with ``handler404`` (JSON already); with DEBUG
    on it shows its technical page listing the URL patterns, which is not what a client of the
    API should parse under ``make run``. Kept: the admin's own pages, and DRF's answers (the
    browsable API renders its 404 as HTML for a browser on purpose). Placed before
    ``CommonMiddleware``, so ``APPEND_SLASH`` redirects still happen first.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            response.status_code == 404
            and not isinstance(response, Response)
            and response.get("Content-Type", "").startswith("text/html")
            and not request.path_info.startswith("/admin/")
        ):
            return error_response(NOT_FOUND, 404)
        return response

from django.conf import settings

from delight.api import error_response


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

"""How every error of the API becomes the contract's JSON.

All error responses of the API go through ``exception_handler`` (DRF's ``EXCEPTION_HANDLER``); the
views outside DRF (404/500 pages, health checks) use ``error_response`` for the same shape.
"""

import logging

from django.core.exceptions import (
    ObjectDoesNotExist,
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
)
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, DataError, IntegrityError
from django.http import Http404, JsonResponse
from django.urls import reverse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.views import exception_handler as drf_exception_handler

from delight import metrics, throttling
from delight.postgresql import trouble

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
NOT_FOUND = "Not found."


def error_response(detail: str, status_code: int, **headers) -> JsonResponse:
    response = JsonResponse({"detail": detail}, status=status_code)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def exception_handler(exc, context):
    """The contract's error bodies: ``{"detail": ...}``, plus ``errors`` for 422."""
    if isinstance(exc, SuspiciousOperation) and not isinstance(exc, RequestDataTooBig):
        exc = _suspicious(exc, context["request"])
    exc = _translate(exc)
    if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
        wait = throttling.anonymous_wait(context["request"])
        if wait is not None:
            exc = exceptions.Throttled(wait)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a real bug: Django's handler500 answers a generic JSON 500
    if isinstance(exc, exceptions.ValidationError):
        response.status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
        response.data = validation_body(exc.detail)
    if response.status_code == status.HTTP_503_SERVICE_UNAVAILABLE:
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The service is temporarily unavailable; try again shortly."
    default_code = "service_unavailable"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body is too large."
    default_code = "payload_too_large"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the resource."
    default_code = "conflict"


def _suspicious(exc: SuspiciousOperation, request) -> exceptions.APIException:
    """What Django does with a ``SuspiciousOperation`` (``TooManyFieldsSent``: more query
    parameters than ``DATA_UPLOAD_MAX_NUMBER_FIELDS``), done here: the same security log line
    and the same 400 with ``DEBUG`` on as off. With it on, Django's debug page read the query
    string again, failed on it the same way, and the development server answered a plain-text
    500 (found by a client author)."""
    logging.getLogger(f"django.security.{exc.__class__.__name__}").error(
        str(exc), exc_info=exc, extra={"status_code": 400, "request": request._request}
    )
    return exceptions.ParseError("Bad request.")


def _translate(exc):
    """Django and database exceptions as the DRF exceptions the contract maps them to."""
    if isinstance(exc, Http404 | ObjectDoesNotExist):
        # DRF 3.15+ would say "No Goal matches the given query.": it names the model. A row
        # gone between a request's read and its write is missing too.
        return exceptions.NotFound(NOT_FOUND)
    if isinstance(exc, exceptions.NotFound):
        return exceptions.NotFound(NOT_FOUND)
    if isinstance(exc, PermissionDenied):
        return exceptions.PermissionDenied()
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLarge()
    if isinstance(exc, DatabaseError):
        return _database_error(exc)
    if isinstance(exc, DjangoValidationError):
        return exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    return exc


def _database_error(exc: DatabaseError):
    """A database in trouble (delight.postgresql.trouble: a lock or statement timeout, a
    read-only or unreachable server, ...) is a 503; a constraint a 409, a value out of range a
    422; anything else a bug (500). Each counted by kind and logged once, with the request id
    (delight.requestlog puts it on every line)."""
    found = trouble.classify(exc)
    if found is not None:
        metrics.database_error(found.kind)
        logger.warning("%s", trouble.described(found, exc))
        return ServiceUnavailable()
    if isinstance(exc, DataError):
        metrics.database_error("data")
        logger.warning("database refused a value: %s", exc)
        return exceptions.ValidationError({"non_field_errors": ["A value is out of range."]})
    if isinstance(exc, IntegrityError):
        metrics.database_error("integrity")
        # The constraint's name only: the message would quote the conflicting value (a username,
        # a Clerk id), which is personal data.
        logger.warning("integrity error on constraint %s", _constraint_of(exc))
        return Conflict()
    metrics.database_error("other")
    return exc


def _constraint_of(exc) -> str:
    diag = getattr(exc.__cause__, "diag", None)
    return getattr(diag, "constraint_name", None) or "(unknown)"


def validation_body(detail) -> dict:
    """``{"detail": "...", "errors": {field: [messages]}}`` from DRF's error detail."""
    if not isinstance(detail, dict):
        detail = {"non_field_errors": detail if isinstance(detail, list) else [detail]}
    errors = {printable(field): _messages(value) for field, value in detail.items()}
    return {"detail": "Invalid input: " + ", ".join(errors) + ".", "errors": errors}


def _messages(value) -> list[str]:
    if isinstance(value, dict):
        return [
            f"{printable(key)}: {message}"
            for key, item in value.items()
            for message in _messages(item)
        ]
    if isinstance(value, list):
        return [message for item in value for message in _messages(item)]
    return [printable(value)]


def printable(text) -> str:
    """``text`` as a JSON encoder can write it: a lone surrogate (valid in JSON's input, e.g. a key
    ``"\\ud800"``, but not Unicode) is shown as its escape, ``\\ud800``, instead of failing
    the response with a 500."""
    return str(text).encode("utf-8", "backslashreplace").decode("utf-8")


def _error_handler(page, status_code: int, detail: str):
    """A Django error handler (``handler404``, ...): the contract's JSON, but in the admin,
    whose pages people read in a browser: there Django's own HTML ``page`` (a staff member
    without a permission got ``{"detail": ...}`` in place of a page)."""

    def handler(request, exception=None):  # handler500 is given no exception
        if request.path.startswith(reverse("admin:index")):
            return page(request) if status_code == 500 else page(request, exception)
        return error_response(detail, status_code)

    return handler


json_400 = _error_handler(defaults.bad_request, 400, "Bad request.")
json_403 = _error_handler(
    defaults.permission_denied, 403, "You do not have permission to perform this action."
)
json_404 = _error_handler(defaults.page_not_found, 404, NOT_FOUND)
json_500 = _error_handler(defaults.server_error, 500, "Internal server error.")


def unavailable_response(detail: str = ServiceUnavailable.default_detail) -> JsonResponse:
    return error_response(detail, 503, Retry_After=str(RETRY_AFTER_SECONDS))

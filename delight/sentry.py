"""Optional error reporting to Sentry (``SENTRY_DSN``; off when unset), with the SDK's own Django
integration (https://docs.sentry.io/platforms/python/integrations/django/).

What leaves the process is kept to what an engineer needs to fix a bug: no personal data
(``send_default_pii=False``: no cookies, no user IP, no ``Authorization`` header), no request
bodies (a goal's text is the user's), and anything shaped like a token replaced by
``[redacted]`` (the same rule as the logs, delight.requestlog).
"""

import json

from delight.requestlog import _TOKEN


def init(*, dsn: str, environment: str | None, traces_sample_rate: float) -> None:
    import sentry_sdk
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.integrations.logging import ignore_logger

    # A refused Host or too many fields is the client's mistake, logged at ERROR by Django: an
    # event for each would bury the real errors (and carry the URL). The log keeps one WARNING.
    ignore_logger("django.security.*")

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        integrations=[DjangoIntegration()],
        send_default_pii=False,
        max_request_body_size="never",
        traces_sample_rate=traces_sample_rate,
        before_send=redact_tokens,
    )


def redact_tokens(event: dict, hint: dict) -> dict:
    text = json.dumps(event, default=str)
    if not _TOKEN.search(text):
        return event
    return json.loads(_TOKEN.sub("[redacted]", text))

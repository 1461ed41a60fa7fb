"""Password guessing on the login forms (``/admin/login/``, the browsable API's ``/api-auth/login/``)
is limited by django-axes: after ``LOGIN_FAILURE_LIMIT`` wrong passwords for one username from one
address, that pair is refused for ``LOGIN_LOCKOUT_SECONDS`` (429, ``Retry-After``), before any
password is hashed. Address and username are counted together, so the other people behind the
same NAT, and the same person from another address, still log in. Settings: the "Login limits"
block of ``delight/settings.py``; README "Configuration"; docs/RELIABILITY.md "Hardening, logins".

How axes does it (https://django-axes.readthedocs.io/en/latest/2_installation.html): its
authentication backend, first in ``AUTHENTICATION_BACKENDS``, refuses a locked-out pair inside
``django.contrib.auth.authenticate``; its signal handlers count failures in PostgreSQL (one
count for every worker and replica); its middleware turns the refusal into ``lockout_response``.
The client address is ``delight.throttling.client_address`` (``AXES_CLIENT_IP_CALLABLE``), the one
rule of the API's own rate limits, proxy hops included.
"""

import math

from axes.backends import AxesStandaloneBackend
from axes.helpers import get_client_username, get_cool_off
from django.shortcuts import render

from delight.api import error_response


class LoginLimitBackend(AxesStandaloneBackend):
    """Axes' lockout check, for every ``authenticate()`` that comes with a request.

    Every login form passes its request (``AuthenticationForm`` does). A call without one comes
    from code, not from a visitor (the test client's ``login()``, a management command): there is
    no address to count by, and axes would raise instead of answering, so it is left to the other
    backends here.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)


def lockout_seconds(request=None) -> int:
    """How long a locked-out address and username wait, in whole seconds."""
    return math.ceil(get_cool_off(request).total_seconds())


def lockout_response(request, original_response=None, credentials=None):
    """``AXES_LOCKOUT_CALLABLE``: 429 with ``Retry-After``; a page for a browser, else JSON."""
    seconds = lockout_seconds(request)
    if "text/html" in request.headers.get("Accept", ""):
        response = render(
            request,
            "delight/login_locked.html",
            {
                "username": get_client_username(request, credentials) or "",
                "minutes": math.ceil(seconds / 60),
            },
            status=429,
        )
    else:
        response = error_response(
            f"Too many failed logins for this username from this address; "
            f"try again in {seconds} seconds.",
            429,
        )
    response["Retry-After"] = str(seconds)
    return response

"""DRF authentication with Clerk session tokens (see accounts.clerk for what is checked)."""

from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from accounts import clerk
from accounts.services import AccountErased, user_for_clerk_id


class KeyServiceUnavailable(exceptions.APIException):
    status_code = 503
    default_detail = _("The authentication key service is unavailable; try again shortly.")
    default_code = "key_service_unavailable"


class ClerkAuthentication(BaseAuthentication):
    """``Authorization: Bearer <Clerk session token>``.

    No header, or another scheme (``Basic``, ``Token``), returns ``None`` so other classes may try;
    a Bearer header with a bad token raises ``AuthenticationFailed`` (401). A failure to fetch the
    signing keys is ours, not the caller's: 503 (``KeyServiceUnavailable``), never 401 for everyone.
    """

    keyword = "Bearer"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                _("Invalid Authorization header: expected 'Bearer <token>'.")
            )
        try:
            token = parts[1].decode("ascii")
            claims = clerk.verify(token)
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(_("Token is malformed.")) from None
        except clerk.InvalidToken as exc:
            raise exceptions.AuthenticationFailed(str(exc)) from None
        except clerk.KeyServiceUnavailable:
            raise KeyServiceUnavailable() from None
        try:
            user = user_for_clerk_id(claims.sub)
        except AccountErased:
            # Deleted in Clerk and erased here (issue #14): the token predates the deletion.
            raise exceptions.AuthenticationFailed(_("This account has been deleted.")) from None
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User account is disabled."))
        return user, claims

    def authenticate_header(self, request) -> str:
        # Without this DRF answers 403 instead of 401 (RFC 6750 section 3).
        return f'{self.keyword} realm="api"'

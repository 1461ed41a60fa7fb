"""Swagger UI (``/docs``) as drf-spectacular serves it, under the service's own headers."""

from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularSwaggerView


class SwaggerView(SpectacularSwaggerView):
    """drf-spectacular's page, its inline script and style given the request's CSP nonce
    (delight/templates/delight/swagger_ui.html), and Django's Cross-Origin-Opener-Policy.

    drf-spectacular answers ``/docs`` with ``Cross-Origin-Opener-Policy: unsafe-none`` (over
    Django's ``same-origin``) so that Swagger UI's OAuth2 login, run in a popup on the provider's
    site, can reach back to this window (tfranzel/drf-spectacular#1142). Here tokens are pasted,
    there is no OAuth2 flow (``SWAGGER_UI_OAUTH2_CONFIG`` is unset), and unsafe-none would only
    let any site this page opens, or that opened it, keep a handle on the window.
    """

    template_name = "delight/swagger_ui.html"

    @extend_schema(exclude=True)
    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        del response.headers["Cross-Origin-Opener-Policy"]  # SecurityMiddleware sets its own
        return response

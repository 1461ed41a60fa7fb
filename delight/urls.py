from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularRedocView

from delight import health, views
from delight.docs import SwaggerView
from delight.openapi import SchemaView

# The API first: Django tries the patterns in order, and nearly every request is the API's.
urlpatterns = [
    path("api/v1/", include("goals.urls")),
    path("api/v1/webhooks/", include("accounts.urls")),
    path("", views.index, name="index"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("api/v1/schema", SchemaView.as_view(), name="schema"),
    # Under the service's CSP, without drf-spectacular's COOP unsafe-none (delight.docs says why).
    path("docs", SwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path(
        "redoc",
        # Nothing fetched from outside the service (the template says why).
        SpectacularRedocView.as_view(url_name="schema", template_name="delight/redoc.html"),
        name="redoc",
    ),
    path("api-auth/", include("rest_framework.urls")),
    path("admin/", admin.site.urls),
]

handler400 = "delight.api.json_400"
handler403 = "delight.api.json_403"
handler404 = "delight.api.json_404"
handler500 = "delight.api.json_500"

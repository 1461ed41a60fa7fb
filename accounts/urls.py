from django.urls import re_path

from accounts.views import ClerkWebhookView

# "/?": with or without the trailing slash, like the goals routes (no redirect: it loses a POST).
urlpatterns = [re_path(r"^clerk/?$", ClerkWebhookView.as_view(), name="clerk-webhook")]

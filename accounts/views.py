"""``POST /api/v1/webhooks/clerk``: Clerk's user events (accounts.webhooks does the work)."""

from django.conf import settings
from rest_framework import exceptions
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import webhooks
from accounts.schema import CLERK_WEBHOOK


class ClerkWebhookView(APIView):
    """The signature is the credential: no bearer token, no session, hence no CSRF check
    (DRF enforces CSRF only inside SessionAuthentication), and no per-user throttle."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []

    def initial(self, request, *args, **kwargs):
        # The contract: no secret, no route, whatever the method (before DRF's 405 and Allow).
        if not settings.CLERK_WEBHOOK_SIGNING_SECRET:
            raise exceptions.NotFound()
        super().initial(request, *args, **kwargs)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if response.status_code == 404:
            response.headers.pop("Allow", None)  # nothing is allowed where there is no route
        return response

    @CLERK_WEBHOOK
    def post(self, request):
        secret = settings.CLERK_WEBHOOK_SIGNING_SECRET
        # request.body: the bytes as received, which is what Svix signed (not request.data).
        delivery = webhooks.verified_delivery(request.body, request.headers, secret=secret)
        return Response({"status": webhooks.process(delivery)})

"""System checks about the Clerk settings: production runs without them, but should know what it
is not checking (issue #12 item 10, issue #14). Warnings, not errors: an issuer or an allow-list
of origins narrows what is accepted, and a service may be run without webhooks for a while."""

from django.conf import settings
from django.core.checks import Warning, register


@register("accounts")
def clerk_settings(app_configs, **kwargs) -> list[Warning]:
    if settings.DEBUG:
        return []
    warnings = []
    if not settings.CLERK_ISSUER:
        warnings.append(
            Warning(
                "CLERK_ISSUER is not set: tokens from any issuer signed with the configured key "
                "are accepted (their iss is not checked).",
                hint="Set CLERK_ISSUER to your Clerk Frontend API URL "
                "(https://<slug>.clerk.accounts.dev).",
                id="accounts.W001",
            )
        )
    if not settings.CLERK_AUTHORIZED_PARTIES:
        warnings.append(
            Warning(
                "CLERK_AUTHORIZED_PARTIES is not set: a session token minted for any origin of "
                "your Clerk instance is accepted (its azp is not checked).",
                hint="Set CLERK_AUTHORIZED_PARTIES to the comma-separated origins of your web app.",
                id="accounts.W002",
            )
        )
    if not settings.CLERK_WEBHOOK_SIGNING_SECRET:
        warnings.append(
            Warning(
                "CLERK_WEBHOOK_SIGNING_SECRET is not set: /api/v1/webhooks/clerk answers 404, so "
                "users deleted in Clerk are never erased here, nor their goals.",
                hint="Create the webhook endpoint in the Clerk dashboard and set its signing "
                "secret (README, 'Clerk webhooks').",
                id="accounts.W003",
            )
        )
    return warnings

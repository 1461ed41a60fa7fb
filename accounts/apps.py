from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from accounts import (
            checks,  # noqa: F401 - registers the system checks on the Clerk settings
            schema,  # noqa: F401 - registers the OpenAPI security scheme
        )

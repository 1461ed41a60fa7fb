from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import Count
from django.utils.html import format_html

from accounts.models import ErasedClerkUser, User, WebhookDelivery
from delight.links import web_url


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """People by email and name (synced from Clerk's webhooks), not by ids."""

    list_display = [
        "email",
        "first_name",
        "last_name",
        "clerk_user_id",
        "is_staff",
        "is_active",
        "goal_count",
    ]
    list_display_links = ["email", "clerk_user_id"]
    search_fields = ["email", "first_name", "last_name", "clerk_user_id", "username"]
    ordering = ["email", "clerk_user_id"]
    readonly_fields = ["id", "last_login", "date_joined", "image", "clerk_updated_at"]
    fieldsets = [
        (None, {"fields": ["id", "username", "password", "clerk_user_id"]}),
        (
            "Personal info",
            {"fields": ["first_name", "last_name", "email", "image", "clerk_updated_at"]},
        ),
        *DjangoUserAdmin.fieldsets[2:],
    ]

    def get_queryset(self, request):
        # One annotated query for the change list, not one COUNT per row.
        return super().get_queryset(request).annotate(goal_total=Count("goals"))

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.clerk_user_id:
            # Clerk owns these: its webhooks would overwrite an edit, and the username is derived
            # from the Clerk id ("clerk:...", outside the alphabet the username field accepts).
            fields += ["username", "first_name", "last_name", "email"]
        return fields

    @admin.display(description="Goals", ordering="goal_total")
    def goal_count(self, user: User) -> int:
        return user.goal_total

    @admin.display(description="Image")
    def image(self, user: User) -> str:
        """The image Clerk reports, shown, and its address as a link: only an ``http(s)``
        address (a ``javascript:`` link would run in the admin's origin when clicked). Anything
        else, left by a row written before webhooks were checked or by plain SQL, is shown as
        text (the admin escapes it)."""
        if not user.image_url:
            return "-"
        url = web_url(user.image_url)
        if not url:
            return user.image_url
        return format_html(
            '<img src="{0}" alt="" width="48" height="48"> <a href="{0}">{0}</a>', url
        )


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows the service writes (from Clerk's webhooks) for staff to read, never to edit."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ErasedClerkUser)
class ErasedClerkUserAdmin(ReadOnlyAdmin):
    """Who was erased and when (Clerk id and time only)."""

    list_display = ["clerk_user_id", "erased_at"]
    search_fields = ["clerk_user_id"]
    ordering = ["-erased_at"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    """Clerk deliveries processed lately, by svix-id (to find one to replay)."""

    list_display = ["id", "event_type", "received_at"]
    list_filter = ["event_type"]
    search_fields = ["id"]
    ordering = ["-received_at"]

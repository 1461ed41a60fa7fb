from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import Count

from accounts.models import User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["username", "clerk_user_id", "email", "is_staff", "is_active", "goal_count"]
    search_fields = ["username", "clerk_user_id", "email", "first_name", "last_name"]
    readonly_fields = ["id", "last_login", "date_joined"]
    fieldsets = [
        (None, {"fields": ["id", "username", "password", "clerk_user_id"]}),
        *DjangoUserAdmin.fieldsets[1:],
    ]

    def get_queryset(self, request):
        # One annotated query for the change list, not one COUNT per row.
        return super().get_queryset(request).annotate(goal_total=Count("goals"))

    @admin.display(description="Goals", ordering="goal_total")
    def goal_count(self, user: User) -> int:
        return user.goal_total

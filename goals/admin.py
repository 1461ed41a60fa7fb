from django.contrib import admin, messages
from django.db.models import QuerySet

from goals.models import Goal, GoalStatus


@admin.register(Goal)
class GoalAdmin(admin.ModelAdmin):
    list_display = [
        "title",
        "owner",
        "goal_type",
        "value_category",
        "status",
        "target_date",
        "created_at",
        "updated_at",
    ]
    list_filter = ["status", "goal_type", "value_category", "target_date"]
    search_fields = ["title", "description", "user__clerk_user_id", "user__email"]
    date_hierarchy = "created_at"
    readonly_fields = ["id", "created_at", "updated_at"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]
    ordering = ["-created_at", "-id"]
    actions = ["archive", "restore"]
    fields = [
        "id",
        "user",
        "title",
        "description",
        "goal_type",
        "value_category",
        "target_date",
        "status",
        "created_at",
        "updated_at",
    ]

    @admin.display(description="Owner", ordering="user__clerk_user_id")
    def owner(self, goal: Goal) -> str:
        return str(goal.user)

    @admin.action(description="Archive selected goals")
    def archive(self, request, queryset: QuerySet) -> None:
        count = queryset.exclude(status=GoalStatus.ARCHIVED).update(status=GoalStatus.ARCHIVED)
        self.message_user(request, f"Archived {count} goal(s).", messages.SUCCESS)

    @admin.action(description="Restore selected goals (set them active)")
    def restore(self, request, queryset: QuerySet) -> None:
        count = queryset.filter(status=GoalStatus.ARCHIVED).update(status=GoalStatus.ACTIVE)
        self.message_user(request, f"Restored {count} goal(s).", messages.SUCCESS)

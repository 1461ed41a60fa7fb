"""Goals in the staff admin.

Archiving and erasing are different acts here, as in the API: staff archive (the goal is kept,
hidden from its owner's default list, and can be restored); only a superuser can erase a goal,
which removes a person's goal from the database for good. The erase pages say so
(templates/admin/goals/goal/).

Every write made from these pages is recorded in the goal's history as staff's (their statements
carry the staff marker: goals.history.acting_as), and a goal's "History" page shows that history,
every writer's, with each change's values before and after.
"""

import calendar
import datetime as dt

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import PAGE_VAR
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import Truncator

from goals.history import acting_as
from goals.models import TRACKED_FIELDS, Actor, Goal, GoalEventAction, GoalStatus

HISTORY_PAGE_SIZE = 100

# Characters of a title and an owner the change list shows (the whole value is in the tooltip):
# long values would otherwise wrap over several lines or push the last column off a 1400 px
# screen.
TITLE_LIST_CHARS = 30
OWNER_LIST_CHARS = 20
ERASE_DESCRIPTION = "Erase selected goals for good (cannot be undone)"


class DeadlineFilter(admin.SimpleListFilter):
    """Target dates are deadlines: the choices look forward from today (in ``TIME_ZONE``).

    Overdue: the date has passed and the goal is neither completed nor archived. Next 7 days:
    today and the six days after. This month: from today to the month's last day (earlier days
    of the month are under Overdue or done).
    """

    title = "deadline"
    parameter_name = "deadline"

    def lookups(self, request, model_admin):
        return [
            ("overdue", "Overdue"),
            ("next_7_days", "Next 7 days"),
            ("this_month", "This month"),
            ("none", "No date"),
        ]

    def queryset(self, request, queryset):
        today = timezone.localdate()
        if self.value() == "overdue":
            return queryset.filter(target_date__lt=today).exclude(
                status__in=[GoalStatus.COMPLETED, GoalStatus.ARCHIVED]
            )
        if self.value() == "next_7_days":
            return queryset.filter(target_date__range=(today, today + dt.timedelta(days=6)))
        if self.value() == "this_month":
            last_day = calendar.monthrange(today.year, today.month)[1]
            return queryset.filter(target_date__range=(today, today.replace(day=last_day)))
        if self.value() == "none":
            return queryset.filter(target_date__isnull=True)
        return queryset


class GoalAdminForm(forms.ModelForm):
    """The description as the API keeps it: null and "" apart, whitespace as written."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["description"].strip = False

    def clean_description(self) -> str | None:
        """An untouched description is saved as it was. A text box shows null and "" alike,
        and a browser sends its lines back with CRLF: compared as sent, every save turned a null
        into "", trimmed the text and rewrote its line ends. Emptied, it is null."""
        typed = _lines(self.cleaned_data["description"] or "")
        kept = self.instance.description if self.instance.pk is not None else None
        if typed == _lines(kept or ""):
            return kept
        return typed or None


def _lines(text: str) -> str:
    return text.replace("\r\n", "\n")


def _shortened(text: str, chars: int, tooltip: str) -> str:
    return format_html('<span title="{}">{}</span>', tooltip, Truncator(text).chars(chars))


@admin.register(Goal)
class GoalAdmin(admin.ModelAdmin):
    form = GoalAdminForm
    list_display = [
        "short_title",
        "owner",
        "type",
        "category",
        "status",
        "deadline",
        "updated",
    ]
    list_filter = ["status", DeadlineFilter, "goal_type", "value_category"]
    # Title and description as the API's q reads them, case and accents aside (the lookup is
    # goals.search.FoldedContains, registered when goals.models imports that module).
    search_fields = [
        "title__folded_contains",
        "description__folded_contains",
        "user__clerk_user_id",
        "user__email",
    ]
    search_help_text = (
        "Title or description (case and accents aside), or the owner's Clerk user id or email."
    )
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

    class Media:
        css = {"all": ["goals/admin.css"]}

    def changelist_view(self, request, extra_context=None):
        # The page's width goes to the goals: without the app list on the left, the seven
        # columns and the filters fit side by side from about 1280 px. (Its bulk actions write:
        # staff's, in the goals' history.)
        with acting_as(Actor.STAFF):
            return super().changelist_view(
                request, {"is_nav_sidebar_enabled": False, **(extra_context or {})}
            )

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        with acting_as(Actor.STAFF):
            return super().changeform_view(request, object_id, form_url, extra_context)

    def history_view(self, request, object_id, extra_context=None):
        """The goal's history as PostgreSQL keeps it (goals.history): every write that changed
        it, whoever made it, newest first, each change's values before and after; filtered by
        actor, action or field (``?actor=staff``, ``?action=archived``, ``?field=title``)."""
        goal = self.get_object(request, unquote(object_id))
        if goal is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_view_or_change_permission(request, goal):
            raise PermissionDenied
        events = goal.events.order_by("-occurred_at", "-id")
        chosen = {}
        for name, choices in (("actor", Actor.values), ("action", GoalEventAction.values)):
            if request.GET.get(name) in choices:
                chosen[name] = request.GET[name]
                events = events.filter(**{name: chosen[name]})
        if request.GET.get("field") in TRACKED_FIELDS:
            chosen["field"] = request.GET["field"]
            events = events.filter(changes__has_key=chosen["field"])
        paginator = self.get_paginator(request, events, HISTORY_PAGE_SIZE)
        page = paginator.get_page(request.GET.get(PAGE_VAR, 1))
        context = {
            **self.admin_site.each_context(request),
            "title": f"History: {goal}",
            "subtitle": None,
            "object": goal,
            "opts": self.opts,
            "module_name": str(self.opts.verbose_name_plural).capitalize(),
            "page": page,
            "page_range": paginator.get_elided_page_range(page.number),
            "page_var": PAGE_VAR,
            "events": [(event, _changes_shown(event.changes)) for event in page],
            "filters": _history_filters(chosen),
            "chosen": chosen,
            "preserved_filters": self.get_preserved_filters(request),
            **(extra_context or {}),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/goals/goal/history.html", context)

    @admin.display(description="Title", ordering="title")
    def short_title(self, goal: Goal) -> str:
        return _shortened(goal.title, TITLE_LIST_CHARS, goal.title)

    @admin.display(description="Owner", ordering="user__email")
    def owner(self, goal: Goal) -> str:
        """A person, where the Clerk webhook told us their email; else their Clerk id."""
        user = goal.user
        full = " ".join(part for part in (user.email, user.clerk_user_id) if part) or str(user)
        return _shortened(user.email or str(user), OWNER_LIST_CHARS, full)

    @admin.display(description="Type", ordering="goal_type")
    def type(self, goal: Goal) -> str:
        return goal.get_goal_type_display()

    @admin.display(description="Category", ordering="value_category")
    def category(self, goal: Goal) -> str:
        return goal.get_value_category_display()

    @admin.display(description="Target date", ordering="target_date", empty_value="-")
    def deadline(self, goal: Goal) -> str | None:
        # YYYY-MM-DD, as the API writes it, and narrower than "Jan. 20, 2027".
        return goal.target_date and goal.target_date.isoformat()

    @admin.display(description="Updated", ordering="updated_at")
    def updated(self, goal: Goal) -> str:
        """To the second (Django's default format stops at the minute and takes twice the
        width); the exact time is in the tooltip."""
        local = timezone.localtime(goal.updated_at)
        return format_html(
            '<time datetime="{}" title="{}">{}</time>',
            local.isoformat(),
            local.isoformat(),
            local.strftime("%Y-%m-%d %H:%M:%S"),
        )

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        """A goal's owner is chosen when staff add it, never changed: moving a person's goal to
        someone else is not an edit (the API cannot do it either)."""
        return [*self.readonly_fields, "user"] if obj is not None else self.readonly_fields

    def delete_view(self, request, object_id, extra_context=None):
        with acting_as(Actor.STAFF):
            return super().delete_view(
                request, object_id, {"title": "Erase a goal for good", **(extra_context or {})}
            )

    def has_delete_permission(self, request, obj=None) -> bool:
        """Erasing a person's goal is for superusers; staff archive instead."""
        return request.user.is_active and request.user.is_superuser

    def get_actions(self, request):
        """Archive and restore first; Django's bulk delete, for superusers, last and named for
        what it does."""
        actions = super().get_actions(request)
        if "delete_selected" in actions:
            function, name, _ = actions.pop("delete_selected")
            actions["delete_selected"] = (function, name, ERASE_DESCRIPTION)
        return actions

    @admin.action(description="Archive selected goals (hide them from their owners' lists)")
    def archive(self, request, queryset: QuerySet) -> None:
        count = queryset.exclude(status=GoalStatus.ARCHIVED).update(status=GoalStatus.ARCHIVED)
        self.message_user(
            request,
            f"Archived {count} goal(s): kept, hidden from their owners' default lists; "
            "“Restore” brings them back.",
            messages.SUCCESS,
        )

    @admin.action(description="Restore selected archived goals (set them active)")
    def restore(self, request, queryset: QuerySet) -> None:
        count = queryset.filter(status=GoalStatus.ARCHIVED).update(status=GoalStatus.ACTIVE)
        self.message_user(
            request,
            f"Restored {count} archived goal(s): active again, back in their owners' lists.",
            messages.SUCCESS,
        )


def _shown(field: str, value) -> str:
    """A value of a change as staff read it: a choice by its label, nothing as a dash."""
    if value is None:
        return "—"
    choices = dict(Goal._meta.get_field(field).flatchoices)
    return str(choices.get(value, value))


def _changes_shown(changes: dict) -> list[tuple[str, str, str]]:
    """(field's name, before, after) for each changed field, in the order of the goal's form."""
    return [
        (str(Goal._meta.get_field(field).verbose_name).capitalize(), *pair)
        for field in TRACKED_FIELDS
        if field in changes
        for pair in [(_shown(field, changes[field]["from"]), _shown(field, changes[field]["to"]))]
    ]


def _history_filters(chosen: dict) -> list[tuple[str, list[tuple[str, str, bool]]]]:
    """The history page's filter links: (title, [(label, query string, selected)])."""

    def link(name: str, value: str | None) -> str:
        query = {**chosen, name: value}
        return "?" + "&".join(f"{key}={val}" for key, val in query.items() if val)

    groups = [
        ("By actor", "actor", Actor.choices),
        ("By action", "action", GoalEventAction.choices),
        (
            "By field",
            "field",
            [(f, str(Goal._meta.get_field(f).verbose_name).capitalize()) for f in TRACKED_FIELDS],
        ),
    ]
    return [
        (
            title,
            [("All", link(name, None), name not in chosen)]
            + [(label, link(name, value), chosen.get(name) == value) for value, label in choices],
        )
        for title, name, choices in groups
    ]

"""Query parameters of the goal list: filters and ordering, each invalid value a 422 by name."""

import django_filters
from django.db.models import F
from rest_framework import serializers

from goals.models import GoalStatus, GoalType, ValueCategory

ORDERING_FIELDS = ("created_at", "updated_at", "target_date", "title")
NULLABLE_ORDERING_FIELDS = {"target_date"}


class StableOrderingFilter(django_filters.OrderingFilter):
    """``ordering=title,-created_at``: the keys asked for, then ``id`` as the last tie-breaker.

    The tie-breaker follows the first key's direction, so ``created_at`` and ``-created_at`` both
    walk the (user, created_at DESC, id DESC) index, forwards or backwards. Goals without a
    ``target_date`` come last in either direction.
    """

    def filter(self, qs, value):
        if not value:
            return qs
        if not all(value):  # "title," or ",": an empty key is no key
            raise serializers.ValidationError({"ordering": ["An ordering key is empty."]})
        keys = [self.get_ordering_value(param) for param in value]
        expressions = []
        for key in keys:
            name = key.lstrip("-")
            nulls = {"nulls_last": True} if name in NULLABLE_ORDERING_FIELDS else {}
            expressions.append(
                F(name).desc(**nulls) if key.startswith("-") else F(name).asc(**nulls)
            )
        tie_breaker = "-id" if keys[0].startswith("-") else "id"
        return qs.order_by(*expressions, tie_breaker)


class GoalFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(
        choices=GoalStatus.choices,
        help_text="Only goals with this status. Without it, archived goals are left out.",
    )
    goal_type = django_filters.ChoiceFilter(choices=GoalType.choices)
    value_category = django_filters.ChoiceFilter(choices=ValueCategory.choices)
    ordering = StableOrderingFilter(
        fields=ORDERING_FIELDS,
        help_text="One or more of created_at, updated_at, target_date, title (comma-separated), "
        "each optionally prefixed with '-' for descending. Default: -created_at.",
    )

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        if not self.form.cleaned_data.get("status"):
            queryset = queryset.visible()
        return queryset

    @classmethod
    def default(cls, queryset):
        """The list when no parameter is given, without building a form: visible goals, in the
        model's default order (newest first)."""
        return queryset.visible()

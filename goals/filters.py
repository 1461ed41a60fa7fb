"""Query parameters of the goal list: filters and ordering, each invalid value a 422 by name."""

import django_filters
from django.db.models import F
from django_filters.rest_framework import DjangoFilterBackend
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
        return self.shown(super().filter_queryset(queryset), self.form.cleaned_data)

    @staticmethod
    def shown(queryset, params: dict):
        """Which goals a list shows: without ``status``, the visible ones (all but archived)."""
        return queryset if params.get("status") else queryset.visible()


class GoalFilterBackend(DjangoFilterBackend):
    """django-filter's backend, with a shortcut for the list asked for with no filter at all.

    Speed-up (docs/PERFORMANCE.md): with no filter parameter there is nothing to validate, so
    the FilterSet's own default (``GoalFilter.shown``) applies without building the FilterSet
    (django-filter deep-copies its filters and builds a Django form for every request).
    """

    def filter_queryset(self, request, queryset, view):
        if not any(name in request.query_params for name in GoalFilter.base_filters):
            return GoalFilter.shown(queryset, {})
        return super().filter_queryset(request, queryset, view)

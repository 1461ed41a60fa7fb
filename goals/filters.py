"""The goal list's query parameters: filters, search, ordering and paging, validated once, up front,
by one class (``GoalListParams``), before any query is built. Each invalid value is named in one
422 (``GoalListParams.from_request`` raises the form's errors; delight.api writes the contract's
body); goals.selectors.goal_page reads the validated values."""

import datetime as dt
import functools
import re
import uuid

import django_filters
from django import forms
from django.db.models import F
from django.http import QueryDict
from django_filters.utils import translate_validation

from goals.days import parse_day
from goals.models import Goal, GoalStatus, GoalType, ValueCategory
from goals.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, decode_cursor
from goals.search import matching

ORDERING_FIELDS = ("created_at", "updated_at", "target_date", "title")
NULLABLE_ORDERING_FIELDS = {"target_date"}
SEARCH_MAX_LENGTH = 200

# RFC 3339 (section 5.6): a date, "T" (or a space, as RFC 3339 allows), a time with any number
# of fraction digits, and a zone.
_RFC3339 = re.compile(
    r"(?P<day>\d{4}-\d{2}-\d{2})[Tt ](?P<time>\d{2}:\d{2}:\d{2})(?P<fraction>\.\d+)?"
    r"(?P<zone>[Zz]|[+-]\d{2}:\d{2})?"
)


def ordering_param(query_params) -> str | None:
    """``ordering`` as one comma-separated value, however it was sent: ``ordering=a,b`` or the
    parameter repeated (``ordering=a&ordering=b``, what generated clients send for arrays)."""
    values = query_params.getlist("ordering")
    return ",".join(values) if values else None


class TimestampField(forms.Field):
    """An RFC 3339 timestamp with its zone, exactly: a naive one is ambiguous, so refused.

    Digits of a second's fraction past the sixth (JavaScript's are 3, Go's and .NET's up to 9)
    are dropped: PostgreSQL keeps microseconds, so a stored time is at or before the bound
    exactly when it is at or before the bound cut to microseconds (and a lower bound takes in
    the rest of its microsecond: for a sync, a goal sent again)."""

    default_error_messages = {
        "invalid": "Enter an RFC 3339 timestamp with a zone, e.g. 2026-01-31T09:30:00Z. "
        "(In a query string, send a '+' of the zone as %%2B.)",  # %%: the message is %-formatted
        "naive": "The timestamp has no zone: add Z or an offset such as +02:00.",
    }

    def to_python(self, value):
        if value in self.empty_values:
            return None
        match = _RFC3339.fullmatch(value.strip())
        if match is None:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        if match["zone"] is None:
            raise forms.ValidationError(self.error_messages["naive"], code="naive")
        fraction = (match["fraction"] or "")[:7]
        try:
            return dt.datetime.fromisoformat(
                f"{match['day']}T{match['time']}{fraction}{match['zone'].upper()}"
            )
        except ValueError:  # 2026-02-30, 25:00, an offset past 24 hours
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None


class TimestampFilter(django_filters.Filter):
    field_class = TimestampField


class DayField(forms.DateField):
    """``YYYY-MM-DD`` exactly, a day of the calendar, as the goal's own ``target_date``."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        try:
            return parse_day(str(value).strip())
        except ValueError as error:
            raise forms.ValidationError(str(error), code="invalid") from None


class DayFilter(django_filters.DateFilter):
    field_class = DayField

    def __init__(self, *args, **kwargs):
        super().__init__(*args, input_formats=["%Y-%m-%d"], **kwargs)


class CursorField(forms.CharField):
    """A ``next_cursor`` of an earlier answer: the position after its last goal."""

    def to_python(self, value):
        if value is None:  # not sent ("cursor=" is sent, and names no position)
            return None
        try:
            return decode_cursor(super().to_python(value))
        except ValueError:
            raise forms.ValidationError("Invalid cursor.", code="invalid") from None


class GoalListForm(forms.Form):
    """The rules between parameters: a lower bound later than its upper bound is refused, naming
    the lower bound; an ordering key is never empty; a cursor goes with neither ``page`` nor
    another ordering. (``GoalListParams.get_form_class`` adds a field per filter, then
    ``PAGING_FIELDS``.)"""

    RANGES = [
        ("updated_after", "updated_before"),
        ("created_after", "created_before"),
        ("target_date_after", "target_date_before"),
    ]

    def clean(self):
        data = super().clean()
        for lower, upper in self.RANGES:
            low, high = data.get(lower), data.get(upper)
            if low is not None and high is not None and low > high:
                self.add_error(lower, f"Must not be later than {upper}.")
        if data.get("ordering") and not all(data["ordering"]):  # "title," or ","
            self.add_error("ordering", "An ordering key is empty.")
        if data.get("cursor") is not None:
            if data.get("page") is not None:
                self.add_error("cursor", "Use either cursor or page, not both.")
            elif data.get("ordering") not in DEFAULT_ORDERINGS:
                self.add_error(
                    "cursor", "A cursor follows the default order (newest first): drop ordering."
                )
        return data


PAGING_FIELDS = {
    "page": forms.IntegerField(min_value=1, required=False),
    "page_size": forms.IntegerField(min_value=1, max_value=MAX_PAGE_SIZE, required=False),
    "cursor": CursorField(max_length=200, required=False, strip=False),
}


class StableOrderingFilter(django_filters.OrderingFilter):
    """``ordering=title,-created_at``: the keys asked for, then ``id`` as the last tie-breaker.

    The tie-breaker follows the first key's direction, so ``created_at`` and ``-created_at`` both
    walk the (user, created_at DESC, id DESC) index, forwards or backwards. Goals without a
    ``target_date`` come last in either direction.
    """

    def filter(self, qs, value):
        if not value:
            return qs
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


# The orderings that are the list's default (newest first): what a cursor follows.
DEFAULT_ORDERINGS = (None, [], ["-created_at"])


class GoalListParams(django_filters.FilterSet):
    """Every query parameter of the goal list, validated at once: the filters declared here, the
    paging fields of ``GoalListForm``. ``from_request`` is the one way in; the views never build
    a query from a parameter it has not validated."""

    status = django_filters.ChoiceFilter(
        choices=GoalStatus.choices,
        help_text="Only goals with this status. Without it, archived goals are left out (but "
        "see `updated_after`).",
    )
    goal_type = django_filters.ChoiceFilter(choices=GoalType.choices)
    value_category = django_filters.ChoiceFilter(choices=ValueCategory.choices)
    updated_after = TimestampFilter(
        field_name="updated_at",
        lookup_expr="gte",
        help_text="Goals changed at or after this RFC 3339 timestamp. Without `status`, archived "
        "goals are included, so a client that syncs learns what was archived.",
    )
    updated_before = TimestampFilter(
        field_name="updated_at", lookup_expr="lte", help_text="Goals changed at or before this."
    )
    created_after = TimestampFilter(
        field_name="created_at", lookup_expr="gte", help_text="Goals created at or after this."
    )
    created_before = TimestampFilter(
        field_name="created_at", lookup_expr="lte", help_text="Goals created at or before this."
    )
    target_date_after = DayFilter(
        field_name="target_date",
        lookup_expr="gte",
        help_text="Target date on or after (YYYY-MM-DD).",
    )
    target_date_before = DayFilter(
        field_name="target_date",
        lookup_expr="lte",
        help_text="Target date on or before (YYYY-MM-DD).",
    )
    q = django_filters.CharFilter(
        method="search",
        max_length=SEARCH_MAX_LENGTH,
        help_text="Words in the title or description, case- and accent-insensitive; each word "
        "also matches as the start of a word, so results follow typing ('caf' finds 'Café').",
    )
    ordering = StableOrderingFilter(
        fields=ORDERING_FIELDS,
        help_text="One or more of created_at, updated_at, target_date, title, comma-separated or "
        "the parameter repeated, each optionally prefixed with '-' for descending. Default: "
        "-created_at. `id` breaks ties, so pages never repeat or skip a goal.",
    )

    class Meta:
        model = Goal
        fields = ()  # the filters declared above, and no others
        form = GoalListForm

    def __init__(self, data=None, *args, **kwargs):
        if data is not None and len(data.getlist("ordering")) > 1:
            data = data.copy()
            data["ordering"] = ordering_param(data)
        super().__init__(data, *args, **kwargs)

    @classmethod
    @functools.cache
    def get_form_class(cls):
        """The filters' fields, then the paging fields (django-filter makes this class anew for
        every FilterSet; it is the same every time)."""
        fields = {name: filter_.field for name, filter_ in cls.base_filters.items()}
        return type(f"{cls.__name__}Form", (cls._meta.form,), {**fields, **PAGING_FIELDS})

    @classmethod
    def from_request(cls, request) -> "GoalListParams":
        """The request's parameters, valid, or the contract's 422 naming each bad one.

        A request with no parameter at all (the list every client opens with) has nothing to
        validate: it gets the defaults, made once (building and validating a FilterSet costs
        a tenth of a list request)."""
        if not request.query_params:
            return _defaults()
        params = cls(request.query_params)
        if not params.is_valid():
            raise translate_validation(params.errors)
        return params

    @property
    def page(self) -> int:
        return self.form.cleaned_data["page"] or 1

    @property
    def page_size(self) -> int:
        return self.form.cleaned_data["page_size"] or DEFAULT_PAGE_SIZE

    @property
    def cursor(self) -> tuple[dt.datetime, uuid.UUID] | None:
        return self.form.cleaned_data["cursor"]

    @property
    def default_order(self) -> bool:
        return self.form.cleaned_data["ordering"] in DEFAULT_ORDERINGS

    def is_default_list(self) -> bool:
        """No filter, search or ordering but the default: the list every client opens with."""
        data = self.form.cleaned_data
        return self.default_order and not any(
            data[name] not in self.form.fields[name].empty_values
            for name in self.filters
            if name != "ordering"
        )

    def filter_queryset(self, queryset):
        """``queryset`` narrowed and ordered as the parameters say (the paging fields are not
        filters: django-filter's own loop would look them up among the filters)."""
        data = self.form.cleaned_data
        for name, filter_ in self.filters.items():
            queryset = filter_.filter(queryset, data[name])
        return self.shown(queryset, data)

    @staticmethod
    def shown(queryset, params: dict):
        """Which goals a list shows: without ``status``, the visible ones (all but archived);
        a sync (``updated_after``) sees archived goals too, so it learns what was archived."""
        if params.get("status") or params.get("updated_after"):
            return queryset
        return queryset.visible()

    def search(self, queryset, name, value):
        return queryset.filter(matching(value))


@functools.cache
def _defaults() -> GoalListParams:
    params = GoalListParams(QueryDict(""))
    params.is_valid()
    return params

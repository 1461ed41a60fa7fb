"""Page-number pagination with the contract's body and rules, and a keyset cursor beside it.

Unlike DRF's ``PageNumberPagination``: a page past the end is 200 with an empty list and the true
``total`` (not 404), an invalid ``page`` or ``page_size`` is a 422 naming it (not silently the
default), and no OFFSET is ever sent past the end (a huge page number would overflow it).

Deep pages: OFFSET reads and discards every row before the page. In the default order every
response also carries ``next_cursor`` (null on the last page), an opaque position after its last
goal; ``?cursor=<next_cursor>`` instead of ``page`` returns the goals after it in one index range
scan, however deep (``page`` is null in such responses). Same order, no repeats or skips.

The total is a COUNT(*) of the list's own queryset: at most GOALS_PER_USER_LIMIT index entries.
"""

import base64
import binascii
import datetime as dt
import math
import uuid

from django.db.models import Count, Q, Window
from django.utils.functional import cached_property
from rest_framework import serializers
from rest_framework.pagination import BasePagination
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from goals.filters import GoalFilter, is_default_list, ordering_param
from goals.models import Goal
from goals.prepared import PreparedQuery, Slot
from goals.serializers import GoalSerializer, SharedFieldsMixin

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100


DEFAULT_ORDERINGS = {None, "", "-created_at"}
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def encode_cursor(goal) -> str:
    micros = (goal.created_at - _EPOCH) // dt.timedelta(microseconds=1)
    return base64.urlsafe_b64encode(f"{micros}.{goal.id.hex}".encode()).decode().rstrip("=")


def decode_cursor(token: str) -> tuple[dt.datetime, uuid.UUID]:
    try:
        micros, goal_id = (
            base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode().split(".")
        )
        return _EPOCH + dt.timedelta(microseconds=int(micros)), uuid.UUID(hex=goal_id)
    except (ValueError, binascii.Error, OverflowError, UnicodeDecodeError):
        raise serializers.ValidationError("Invalid cursor.") from None


class _Params(SharedFieldsMixin, serializers.Serializer):
    page = serializers.IntegerField(min_value=1, required=False)
    page_size = serializers.IntegerField(
        min_value=1, max_value=MAX_PAGE_SIZE, default=DEFAULT_PAGE_SIZE, required=False
    )
    cursor = serializers.CharField(required=False, max_length=200)
    ordering = serializers.CharField(required=False, allow_blank=True)

    def validate_cursor(self, value: str) -> tuple[dt.datetime, uuid.UUID]:
        return decode_cursor(value)

    def validate(self, attrs):
        if "cursor" in attrs:
            if "page" in attrs:
                raise serializers.ValidationError(
                    {"cursor": ["Use either cursor or page, not both."]}
                )
            if attrs.get("ordering") not in DEFAULT_ORDERINGS:
                raise serializers.ValidationError(
                    {
                        "cursor": [
                            "A cursor follows the default order (newest first): drop ordering."
                        ]
                    }
                )
        return attrs


def after(queryset, created_at: dt.datetime, goal_id: uuid.UUID):
    """The goals after (``created_at``, ``goal_id``) in the default order (newest first).

    ``created_at <= c`` is the index range (it starts the scan at the position, however deep);
    the rest only decides the few rows that share that instant.
    """
    return queryset.filter(
        Q(created_at__lte=created_at) & (Q(created_at__lt=created_at) | Q(pk__lt=goal_id))
    )


def rows_of(queryset):
    """The goals as rows (named tuples of the serializer's fields), not model instances: the
    serializer reads both, and a row costs a fraction of an instance (docs/PERFORMANCE.md)."""
    return queryset.values_list(*GoalSerializer.row_fields(), named=True)


def counted(queryset):
    """Rows that each carry the total of the whole list, ``total_goals``."""
    fields = GoalSerializer.row_fields()
    window = queryset.annotate(total_goals=Window(Count("*")))
    return window.values_list(*fields, "total_goals", named=True)


# The default list (no filter, newest first) of a Slot's owner: what GoalFilter gives with no
# parameter (tests/goals/test_prepared.py holds the two equal).
DEFAULT_FIRST_PAGE = PreparedQuery(
    lambda: counted(GoalFilter.shown(Goal.objects.owned_by(Slot("owner")), {})), model=Goal
)


def _filter_errors(queryset) -> dict:
    try:
        queryset.query  # noqa: B018 - builds the list's lazy queryset, running the FilterSet
    except serializers.ValidationError as error:
        return error.detail
    return {}


class GoalPagination(BasePagination):
    def paginate_queryset(self, queryset, request, view=None):
        data = {
            key: request.query_params[key]
            for key in ("page", "page_size", "cursor")
            if key in request.query_params
        }
        if (ordering := ordering_param(request.query_params)) is not None:
            data["ordering"] = ordering
        params = _Params(data=data)
        if not params.is_valid():
            # One 422 names every bad parameter: the filters' too (they are checked when the
            # lazy queryset is first built).
            raise serializers.ValidationError({**_filter_errors(queryset), **params.errors})
        self.request = request
        self.page_size = params.validated_data["page_size"]
        default_order = params.validated_data.get("ordering") in DEFAULT_ORDERINGS
        if "cursor" in params.validated_data:
            self.page = None
            self.total = queryset.count()
            rows = list(
                rows_of(after(queryset, *params.validated_data["cursor"]))[: self.page_size + 1]
            )
            more = len(rows) > self.page_size
            rows = rows[: self.page_size]
        else:
            self.page = params.validated_data.get("page", 1)
            offset = (self.page - 1) * self.page_size
            if offset == 0:
                rows, self.total = self.first_page(queryset)
            else:
                self.total = queryset.count()
                window = rows_of(queryset)[offset : offset + self.page_size]
                rows = [] if offset >= self.total else list(window)
            more = offset + len(rows) < self.total
        self.next_cursor = encode_cursor(rows[-1]) if rows and more and default_order else None
        return rows

    def first_page(self, queryset) -> tuple[list, int]:
        """The first page and the total in one round trip (``COUNT(*) OVER ()``); the list
        every client opens with from a query prepared once (goals.prepared).

        Speed-ups (docs/PERFORMANCE.md): the window counts the same rows the page is cut from;
        the prepared query is the same ORM expression, compiled once. (A deeper page counts
        first, so a page past the end costs that count alone.)
        """
        if is_default_list(self.request.query_params):
            rows = DEFAULT_FIRST_PAGE.rows(owner=self.request.user.pk, limit=self.page_size)
        else:
            rows = list(counted(queryset)[: self.page_size])
        return rows, rows[0].total_goals if rows else 0

    @cached_property
    def _url(self) -> str:
        return self.request.build_absolute_uri()

    def get_next_link(self) -> str | None:
        if self.page is None:  # cursor mode
            return (
                replace_query_param(self._url, "cursor", self.next_cursor)
                if self.next_cursor
                else None
            )
        if self.page * self.page_size >= self.total:
            return None
        return replace_query_param(self._url, "page", self.page + 1)

    def get_previous_link(self) -> str | None:
        """The page before; past the end, the last page there is (not another empty one)."""
        if self.page in (None, 1):  # cursors go forward only
            return None
        return self._page_link(min(self.page - 1, self._last_page))

    def get_first_link(self) -> str:
        return self._page_link(1)

    def get_last_link(self) -> str:
        return self._page_link(self._last_page)

    @property
    def _last_page(self) -> int:
        return max(1, math.ceil(self.total / self.page_size))

    def _page_link(self, page: int) -> str:
        url = remove_query_param(self._url, "cursor")
        return (
            replace_query_param(url, "page", page) if page > 1 else remove_query_param(url, "page")
        )

    def get_paginated_response(self, data):
        next_link, previous_link = self.get_next_link(), self.get_previous_link()
        links = [(self.get_first_link(), "first"), (previous_link, "prev")]
        links += [(next_link, "next"), (self.get_last_link(), "last")]
        return Response(
            {
                "goals": data,
                "total": self.total,
                "page": self.page,
                "page_size": self.page_size,
                "next": next_link,
                "previous": previous_link,
                "next_cursor": self.next_cursor,
            },
            # RFC 8288 web links, for clients that page by headers (GitHub-style).
            headers={"Link": ", ".join(f'<{url}>; rel="{rel}"' for url, rel in links if url)},
        )

    def get_paginated_response_schema(self, schema):
        link = {"type": "string", "format": "uri", "nullable": True}
        return {
            "type": "object",
            "required": ["goals", "total", "page", "page_size", "next", "previous", "next_cursor"],
            "properties": {
                "goals": schema,
                "total": {"type": "integer", "example": 137},
                "page": {
                    "type": "integer",
                    "nullable": True,
                    "example": 1,
                    "description": "Null when the page was asked for with a cursor.",
                },
                "page_size": {"type": "integer", "example": DEFAULT_PAGE_SIZE},
                "next": {**link, "example": "http://localhost:8000/api/v1/goals?page=2"},
                "previous": {**link, "example": None},
                "next_cursor": {
                    "type": "string",
                    "nullable": True,
                    "example": "MTc2MzQ2MTgwMDAwMDAwMC41NTBlODQwMGUyOWI0MWQ0YTcxNjQ0NjY1NTQ0MDAwMA",
                    "description": "In the default order: pass as `cursor` for the goals after "
                    "this page (null on the last page, or with another ordering).",
                },
            },
        }

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": "page",
                "in": "query",
                "required": False,
                "description": "Page number, from 1. A page past the end is an empty list.",
                "schema": {"type": "integer", "minimum": 1, "default": 1},
            },
            {
                "name": "cursor",
                "in": "query",
                "required": False,
                "description": "A `next_cursor` from an earlier answer, instead of `page`: the "
                "goals after it in the default order (newest first), as fast on page 1,000 as on "
                "page 1. Not with `page` or another `ordering`.",
                "schema": {"type": "string", "minLength": 1, "maxLength": 200},
            },
            {
                "name": "page_size",
                "in": "query",
                "required": False,
                "description": f"Goals per page, 1 to {MAX_PAGE_SIZE}.",
                "schema": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": MAX_PAGE_SIZE,
                    "default": DEFAULT_PAGE_SIZE,
                },
            },
        ]

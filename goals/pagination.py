"""Page-number pagination with the contract's body and rules.

Unlike DRF's ``PageNumberPagination``: a page past the end is 200 with an empty list and the true
``total`` (not 404), an invalid ``page`` or ``page_size`` is a 422 naming it (not silently the
default), and no OFFSET is ever sent past the end (a huge page number would overflow it).
"""

from django.utils.functional import cached_property
from rest_framework import serializers
from rest_framework.pagination import BasePagination
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100


class _Params(serializers.Serializer):
    page = serializers.IntegerField(min_value=1, default=1, required=False)
    page_size = serializers.IntegerField(
        min_value=1, max_value=MAX_PAGE_SIZE, default=DEFAULT_PAGE_SIZE, required=False
    )


class GoalPagination(BasePagination):
    def paginate_queryset(self, queryset, request, view=None):
        params = _Params(
            data={
                key: request.query_params[key]
                for key in ("page", "page_size")
                if key in request.query_params
            }
        )
        params.is_valid(raise_exception=True)
        self.request = request
        self.page = params.validated_data["page"]
        self.page_size = params.validated_data["page_size"]
        self.total = queryset.count()
        offset = (self.page - 1) * self.page_size
        if offset >= self.total:
            return []
        return list(queryset[offset : offset + self.page_size])

    @cached_property
    def _url(self) -> str:
        return self.request.build_absolute_uri()

    def get_next_link(self) -> str | None:
        if self.page * self.page_size >= self.total:
            return None
        return replace_query_param(self._url, "page", self.page + 1)

    def get_previous_link(self) -> str | None:
        if self.page == 1:
            return None
        if self.page == 2:
            return remove_query_param(self._url, "page")
        return replace_query_param(self._url, "page", self.page - 1)

    def get_paginated_response(self, data):
        return Response(
            {
                "goals": data,
                "total": self.total,
                "page": self.page,
                "page_size": self.page_size,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
            }
        )

    def get_paginated_response_schema(self, schema):
        link = {"type": "string", "format": "uri", "nullable": True}
        return {
            "type": "object",
            "required": ["goals", "total", "page", "page_size", "next", "previous"],
            "properties": {
                "goals": schema,
                "total": {"type": "integer", "example": 137},
                "page": {"type": "integer", "example": 1},
                "page_size": {"type": "integer", "example": DEFAULT_PAGE_SIZE},
                "next": {**link, "example": "http://localhost:8000/api/v1/goals?page=2"},
                "previous": {**link, "example": None},
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

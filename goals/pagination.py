"""A page of the goal list as the contract writes it: its body, its ``Link`` header, its cursor.

Page numbers, with the contract's rules rather than DRF's ``PageNumberPagination``'s: a page past
the end is 200 with an empty list and the true ``total`` (not 404), and no OFFSET is ever sent
past the end (a huge page number would overflow it). Beside them a keyset cursor: OFFSET reads
and discards every row before the page, so in the default order every answer also carries
``next_cursor`` (null on the last page), an opaque position after its last goal;
``?cursor=<next_cursor>`` instead of ``page`` returns the goals after it in one index range scan,
however deep (``page`` is null in such answers). Same order, no repeats or skips.

Which rows a page holds is decided in goals.selectors.goal_page; this module only writes it.
"""

import base64
import binascii
import datetime as dt
import math
import uuid
from dataclasses import dataclass

from rest_framework.pagination import BasePagination
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from delight.renderers import RawJSON

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def encode_cursor(goal) -> str:
    micros = (goal.created_at - _EPOCH) // dt.timedelta(microseconds=1)
    return base64.urlsafe_b64encode(f"{micros}.{goal.id.hex}".encode()).decode().rstrip("=")


def decode_cursor(token: str) -> tuple[dt.datetime, uuid.UUID]:
    """The (created_at, id) a cursor names; ``ValueError`` for anything else."""
    try:
        micros, goal_id = (
            base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode().split(".")
        )
        return _EPOCH + dt.timedelta(microseconds=int(micros)), uuid.UUID(hex=goal_id)
    except (ValueError, binascii.Error, OverflowError, UnicodeDecodeError):
        raise ValueError("Invalid cursor.") from None


@dataclass(frozen=True)
class GoalPage:
    """One page of a user's goals: what goals.selectors.goal_page found."""

    goals: list[str]  # each goal's JSON, as the serializer represents it (written by PostgreSQL)
    total: int
    page: int | None  # None when the page was asked for with a cursor
    page_size: int
    next_cursor: str | None


def page_response(request, page: GoalPage) -> Response:
    """The contract's body for ``page``, and the RFC 8288 ``Link`` header (GitHub-style paging
    by headers), every link keeping every parameter."""
    url = request.build_absolute_uri()
    last_page = max(1, math.ceil(page.total / page.page_size))

    def page_link(number: int) -> str:
        without_cursor = remove_query_param(url, "cursor")
        if number == 1:
            return remove_query_param(without_cursor, "page")
        return replace_query_param(without_cursor, "page", number)

    if page.page is None:  # cursors go forward only
        next_link = (
            replace_query_param(url, "cursor", page.next_cursor) if page.next_cursor else None
        )
        previous_link = None
    else:
        next_link = (
            replace_query_param(url, "page", page.page + 1)
            if page.page * page.page_size < page.total
            else None
        )
        # The page before; past the end, the last page there is (not another empty one).
        previous_link = None if page.page == 1 else page_link(min(page.page - 1, last_page))
    links = [(page_link(1), "first"), (previous_link, "prev"), (next_link, "next")]
    links.append((page_link(last_page), "last"))
    return Response(
        {
            "goals": RawJSON(f"[{','.join(page.goals)}]"),
            "total": page.total,
            "page": page.page,
            "page_size": page.page_size,
            "next": next_link,
            "previous": previous_link,
            "next_cursor": page.next_cursor,
        },
        headers={"Link": ", ".join(f'<{link}>; rel="{rel}"' for link, rel in links if link)},
    )


class GoalPagination(BasePagination):
    """The list's page as drf-spectacular documents it (its body and its parameters) and as the
    browsable API shows it; the list itself is written by ``page_response``."""

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

import uuid

import orjson
from django.db import router
from django.http import Http404
from django.utils.functional import SimpleLazyObject
from drf_spectacular.utils import extend_schema_view
from rest_framework import exceptions, status, viewsets
from rest_framework.response import Response

from delight.api import Conflict
from delight.renderers import JSONRenderer
from goals import browsable, idempotency, schema, versions
from goals.filters import GoalFilter
from goals.models import Goal
from goals.pagination import GoalPagination
from goals.prepared import PreparedQuery, Slot
from goals.serializers import GoalSerializer
from goals.services import GoalLimitReached, StaleGoal, goal_archive, goal_create, goal_update

# get_queryset().filter(pk=...) for get_object, with slots for the owner and the id.
GOAL_BY_ID = PreparedQuery(
    lambda: Goal.objects.owned_by(Slot("owner")).filter(pk=Slot("pk")), model=Goal
)


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "The goal has changed since the version named in If-Match; fetch it again."
    default_code = "precondition_failed"


@extend_schema_view(**schema.GOAL_VIEWSET)
class GoalViewSet(browsable.GoalBrowsableAPIMixin, viewsets.ModelViewSet):
    """The signed-in user's goals. Another user's goal does not exist here (404, never 403).

    Responses carrying one goal carry its version as a strong ``ETag``; ``PATCH`` and ``DELETE``
    honour ``If-Match`` (412 when stale), ``GET`` honours ``If-None-Match`` (304).
    """

    queryset = Goal.objects.none()  # for schema generation only; get_queryset() is what runs
    serializer_class = GoalSerializer
    filterset_class = GoalFilter
    pagination_class = GoalPagination
    lookup_value_regex = (
        "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    )
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]  # no PUT
    goal: Goal | None = None  # the goal this request answers with, for its ETag

    def get_queryset(self):
        return Goal.objects.owned_by(self.request.user)

    def get_serializer_context(self):
        # Every goal this view shows is the signed-in user's (get_queryset): the serializer
        # takes the owner from here, so a list's rows need no owner of their own.
        return {**super().get_serializer_context(), "owner": self.request.user}

    def list(self, request, *args, **kwargs):
        # The queryset is built only if used: the default list's first page reads a prepared
        # query instead (goals.pagination.first_page), and building one costs a tenth of the
        # request (docs/PERFORMANCE.md).
        queryset = SimpleLazyObject(lambda: self.filter_queryset(self.get_queryset()))
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def filter_queryset(self, queryset):
        # Query filters describe lists; a goal fetched by id is found whatever its status.
        if self.action != "list":
            return queryset
        return super().filter_queryset(queryset)

    def get_object(self):
        """DRF's get_object (the goal by id within get_queryset(), 404 if absent, the object
        permissions checked), its query prepared once (speed-up, docs/PERFORMANCE.md)."""
        found = GOAL_BY_ID.rows(owner=self.request.user.pk, pk=uuid.UUID(self.kwargs["pk"]))
        if not found:
            raise Http404
        (row,) = found
        self.goal = Goal.from_db(router.db_for_read(Goal), row._fields, row)
        self.check_object_permissions(self.request, self.goal)
        return self.goal

    def create(self, request, *args, **kwargs):
        key = request.headers.get(idempotency.HEADER)
        if key is None:
            return super().create(request, *args, **kwargs)
        return idempotency.run_once(
            user=request.user,
            key=idempotency.valid_key(key),
            data=request.data,
            run=lambda: super(GoalViewSet, self).create(request, *args, **kwargs),
            render=lambda response: orjson.loads(JSONRenderer().render(response.data)),
        )

    def perform_create(self, serializer):
        self.goal = goal_create(user=self.request.user, **serializer.validated_data)
        serializer.instance = self.goal

    def perform_update(self, serializer):
        self.goal = goal_update(
            goal=serializer.instance,
            changes=serializer.validated_data,
            expected_versions=self.expected_versions(),
        )

    def get_success_headers(self, data):
        return {
            "Location": f"{self.request.path.rstrip('/')}/{data['id']}",
            "ETag": versions.etag(self.goal.updated_at),
        }

    def retrieve(self, request, *args, **kwargs):
        goal = self.get_object()
        match = request.headers.get("If-None-Match")
        if match is not None and versions.none_match(match, goal.updated_at):
            return Response(status=status.HTTP_304_NOT_MODIFIED)
        return Response(self.get_serializer(goal).data)

    def destroy(self, request, *args, **kwargs):
        """Archive (soft delete): the goal is kept with status ``archived`` and returned."""
        self.goal = goal_archive(goal=self.get_object(), expected_versions=self.expected_versions())
        return Response(self.get_serializer(self.goal).data, status=status.HTTP_200_OK)

    def expected_versions(self):
        """The versions ``If-Match`` accepts; ``None`` without the header (or with ``*``)."""
        header = self.request.headers.get("If-Match")
        return None if header is None else versions.versions_matching(header)

    def handle_exception(self, exc):
        if isinstance(exc, StaleGoal):
            exc = PreconditionFailed()
        elif isinstance(exc, GoalLimitReached):
            exc = Conflict(f"Goal limit reached: {exc}")
        return super().handle_exception(exc)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if self.goal is not None and (
            200 <= response.status_code < 300 or response.status_code == 304
        ):
            response["ETag"] = versions.etag(self.goal.updated_at)
        return response

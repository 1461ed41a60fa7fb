import uuid

import orjson
from drf_spectacular.utils import extend_schema_view
from rest_framework import exceptions, status, viewsets
from rest_framework.response import Response

from delight.api import Conflict
from delight.renderers import JSONRenderer
from goals import browsable, idempotency, schema, selectors, versions
from goals.filters import GoalListParams
from goals.models import Goal
from goals.pagination import GoalPagination, page_response
from goals.serializers import GoalSerializer
from goals.services import GoalLimitReached, StaleGoal, goal_archive, goal_create, goal_patch


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "The goal has changed since the version named in If-Match; fetch it again."
    default_code = "precondition_failed"


@extend_schema_view(**schema.GOAL_VIEWSET)
class GoalViewSet(browsable.GoalBrowsableAPIMixin, viewsets.GenericViewSet):
    """The signed-in user's goals. Another user's goal does not exist here (404, never 403).

    Reads go through goals.selectors (``goal_page``, ``goal_get``), writes through
    goals.services. Every answer carrying one goal carries its version as a strong ``ETag``
    (``goal_response``); ``PATCH`` and ``DELETE`` honour ``If-Match`` (412 when stale), ``GET``
    honours ``If-None-Match`` (304).
    """

    queryset = Goal.objects.none()  # for the schema only: every read is a selector's
    serializer_class = GoalSerializer
    # What the list accepts and how its page looks, for the OpenAPI document and the browsable
    # API's filter form; the list itself validates with GoalListParams.from_request.
    filterset_class = GoalListParams
    pagination_class = GoalPagination
    lookup_value_regex = (
        "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    )

    def get_serializer_context(self):
        # Every goal this view shows is the signed-in user's: the serializer takes the owner
        # from here, so a goal needs no owner of its own.
        return {**super().get_serializer_context(), "owner": self.request.user}

    def goal_id(self) -> uuid.UUID:
        """The goal the URL names (the route only matches a UUID)."""
        return uuid.UUID(self.kwargs["pk"])

    def get_object(self) -> Goal:
        goal = selectors.goal_get(user=self.request.user, pk=self.goal_id())
        self.check_object_permissions(self.request, goal)
        return goal

    def list(self, request, *args, **kwargs):
        params = GoalListParams.from_request(request)
        page = selectors.goal_page(user=request.user, params=params)
        return page_response(request, page)

    def create(self, request, *args, **kwargs):
        key = request.META.get("HTTP_IDEMPOTENCY_KEY")
        if key is None:
            return self.perform_create(request)
        return idempotency.run_once(
            user=request.user,
            key=idempotency.valid_key(key),
            data=request.data,
            run=lambda: self.perform_create(request),
            render=lambda response: orjson.loads(JSONRenderer().render(response.data)),
        )

    def perform_create(self, request) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        serializer.instance = goal_create(user=request.user, **serializer.validated_data)
        location = f"{request.path.rstrip('/')}/{serializer.instance.pk}"
        return self.goal_response(serializer, status=status.HTTP_201_CREATED, Location=location)

    def retrieve(self, request, *args, **kwargs):
        goal = self.get_object()
        match = request.META.get("HTTP_IF_NONE_MATCH")
        if match is not None and versions.none_match(match, goal.updated_at):
            return Response(
                status=status.HTTP_304_NOT_MODIFIED,
                headers={"ETag": versions.etag(goal.updated_at)},
            )
        return self.goal_response(self.get_serializer(goal))

    def partial_update(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        serializer.instance = goal_patch(
            user=request.user,
            pk=self.goal_id(),
            changes=serializer.validated_data,
            expected_versions=self.expected_versions(),
        )
        return self.goal_response(serializer)

    def destroy(self, request, *args, **kwargs):
        """Archive (soft delete): the goal is kept with status ``archived`` and returned."""
        goal = goal_archive(goal=self.get_object(), expected_versions=self.expected_versions())
        return self.goal_response(self.get_serializer(goal))

    def goal_response(self, serializer, *, status: int = status.HTTP_200_OK, **headers):
        """An answer carrying one goal (``serializer.instance``): its JSON, and its version as
        the ``ETag``."""
        etag = versions.etag(serializer.instance.updated_at)
        return Response(serializer.data, status=status, headers={"ETag": etag, **headers})

    def expected_versions(self):
        """The versions ``If-Match`` accepts; ``None`` without the header (or with ``*``)."""
        header = self.request.META.get("HTTP_IF_MATCH")
        return None if header is None else versions.versions_matching(header)

    def handle_exception(self, exc):
        if isinstance(exc, StaleGoal):
            exc = PreconditionFailed()
        elif isinstance(exc, GoalLimitReached):
            exc = Conflict(f"Goal limit reached: {exc}")
        return super().handle_exception(exc)

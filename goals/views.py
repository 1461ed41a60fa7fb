from drf_spectacular.utils import extend_schema_view
from rest_framework import status, viewsets
from rest_framework.response import Response

from goals import schema
from goals.filters import GoalFilter
from goals.models import Goal
from goals.pagination import GoalPagination
from goals.serializers import GoalSerializer
from goals.services import goal_archive, goal_create, goal_update


@extend_schema_view(**schema.GOAL_VIEWSET)
class GoalViewSet(viewsets.ModelViewSet):
    """The signed-in user's goals. Another user's goal does not exist here (404, never 403)."""

    queryset = Goal.objects.none()  # for schema generation only; get_queryset() is what runs
    serializer_class = GoalSerializer
    filterset_class = GoalFilter
    pagination_class = GoalPagination
    lookup_value_regex = (
        "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    )
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]  # no PUT

    def get_queryset(self):
        return Goal.objects.owned_by(self.request.user).select_related("user")

    def filter_queryset(self, queryset):
        # Query filters describe lists; a goal fetched by id is found whatever its status.
        if self.action != "list":
            return queryset
        return super().filter_queryset(queryset)

    def perform_create(self, serializer):
        serializer.instance = goal_create(user=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = goal_update(
            goal=serializer.instance, changes=serializer.validated_data
        )

    def get_success_headers(self, data):
        return {"Location": f"{self.request.path.rstrip('/')}/{data['id']}"}

    def destroy(self, request, *args, **kwargs):
        """Archive (soft delete): the goal is kept with status ``archived`` and returned."""
        goal = goal_archive(goal=self.get_object())
        return Response(self.get_serializer(goal).data, status=status.HTTP_200_OK)

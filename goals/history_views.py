"""The history and insights routes (goals.history): each one's parameters validated up front
(goals.history_serializers), one selector, and its answer's serializer. The views stay thin."""

import uuid

from django.http import Http404
from django.urls import re_path
from drf_spectacular.utils import extend_schema_view
from rest_framework.response import Response
from rest_framework.views import APIView

from goals import history, history_schema
from goals.history_serializers import (
    GoalHistoryPageSerializer,
    HistoryParams,
    InsightsParams,
    InsightsSerializer,
    UserHistoryParams,
    validated,
)

# --- Views ------------------------------------------------------------------------------------


@extend_schema_view(get=history_schema.GOAL_HISTORY)
class GoalHistoryView(APIView):
    """This goal's events, newest first. Another user's goal, or an unknown one: 404."""

    name = "Goal history"  # the browsable API's title

    def get(self, request, pk: str):
        params = validated(HistoryParams, request.query_params)
        page = history.goal_history_page(user=request.user, goal_id=uuid.UUID(pk), params=params)
        if page is None:
            raise Http404
        return Response(GoalHistoryPageSerializer(page).data)


@extend_schema_view(get=history_schema.USER_HISTORY)
class UserHistoryView(APIView):
    """The events of all my goals, newest first."""

    name = "History of my goals"

    def get(self, request):
        params = validated(UserHistoryParams, request.query_params)
        page = history.user_history_page(user=request.user, params=params)
        return Response(GoalHistoryPageSerializer(page).data)


@extend_schema_view(get=history_schema.INSIGHTS)
class InsightsView(APIView):
    """My goals summed up."""

    name = "Insights"

    def get(self, request):
        params = validated(InsightsParams, request.query_params)
        return Response(InsightsSerializer(history.goal_insights(user=request.user, **params)).data)


_UUID = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"

# "/?" as the goal routes: with or without the trailing slash, no redirect.
urlpatterns = [
    re_path(r"^goals/history/?$", UserHistoryView.as_view(), name="goal-history-all"),
    re_path(r"^goals/insights/?$", InsightsView.as_view(), name="goal-insights"),
    re_path(rf"^goals/(?P<pk>{_UUID})/history/?$", GoalHistoryView.as_view(), name="goal-history"),
]

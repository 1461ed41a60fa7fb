from rest_framework.routers import SimpleRouter

from goals import history_views
from goals.views import GoalViewSet

# "/?": /api/v1/goals and /api/v1/goals/ are the same route; a redirect would make
# clients lose a POST body.
router = SimpleRouter()
router.trailing_slash = "/?"  # the constructor only knows "/" or ""
router.register("goals", GoalViewSet, basename="goal")

urlpatterns = [*history_views.urlpatterns, *router.urls]

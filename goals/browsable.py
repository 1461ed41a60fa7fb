"""What the browsable API says on the goals pages (``delight.browsable`` renders them).

DRF would name the pages "Goal List" and "Goal Instance", show the viewset's docstring on both
(reStructuredText, shown raw), and ask "delete this Goal Instance?" for a DELETE that archives.
The descriptions are for people using the page; the OpenAPI document keeps its own (goals/schema.py).
"""

from delight.browsable import text_to_html

LIST_DESCRIPTION = """
Your goals, newest first, 50 to a page. Archived goals are left out unless you ask for them
(`?status=archived`); **Filters** and [Swagger UI](/docs) show every filter and ordering.

**POST** creates a goal. The form below holds every field you can send, each with a value it
accepts: fill in `title` (1 to 200 characters) and pick `goal_type` (`abstract`: a broad
aspiration, `concrete`: specific and measurable) and `value_category` (`health`, `craft`,
`growth`, `connection`). `description` and `target_date` (`YYYY-MM-DD`) may stay `null`;
`status` starts `active` (or `paused`, `completed`, `archived`).
"""

DETAIL_DESCRIPTION = """
One of your goals (another user's goal is not found here: 404, never 403).

**PATCH** changes only the fields you send; the form below holds this goal's current value of
every field you can change (`id`, `user_id`, `created_at` and `updated_at` are the service's and
refused). Setting `status` from `archived` to another value restores the goal.

**DELETE** archives the goal: it is kept, with status `archived`, and left out of the default list.

Every answer carries the goal's version as an `ETag`: send it back as `If-Match` with PATCH or
DELETE to refuse a write over a change made since (412), or as `If-None-Match` with GET (304).
"""


class GoalBrowsableAPIMixin:
    """GoalViewSet's names and descriptions in the browsable API, and what its DELETE does."""

    browsable_delete = {
        "button": "DELETE (archive)",
        "tooltip": "Make a DELETE request: archives this goal (kept, restorable)",
        "question": "Archive this goal?",
        "explanation": "It is kept with status “archived” and left out of the default list; "
        'PATCH {"status": "active"} restores it.',
        "confirm": "Archive",
    }

    def get_view_name(self) -> str:
        return "Goal" if getattr(self, "detail", False) else "Goals"

    def get_view_description(self, html: bool = False) -> str:
        text = DETAIL_DESCRIPTION if getattr(self, "detail", False) else LIST_DESCRIPTION
        return text_to_html(text) if html else text.strip()

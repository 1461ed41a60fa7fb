"""drf-spectacular hooks, and the schema's view."""

from drf_spectacular.views import SpectacularAPIView

from delight.renderers import JSONRenderer


class SchemaView(SpectacularAPIView):
    """The OpenAPI document: YAML unless JSON is asked for, and its errors in the API's JSON.
    A 406 (``Accept: text/html``) or a 429 was rendered by the YAML renderer, which wrote DRF's
    error objects out as ``string:``/``code:`` pairs. (No authentication: settings'
    ``SERVE_AUTHENTICATION``, so a stale token in the browser does not hide the document.)"""

    def finalize_response(self, request, response, *args, **kwargs):
        if response.status_code >= 400:
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)


def without_trailing_slash(endpoints):
    """Document ``/api/v1/goals/{id}``, not ``.../{id}/``: the routes take both (``/?``), and the
    contract writes them without the slash."""
    return [
        (path.rstrip("/") if path != "/" else path, path_regex, method, callback)
        for path, path_regex, method, callback in endpoints
    ]


def contract_details(result, generator, request, public):
    """What the serializers and filters cannot say through drf-spectacular:

    - every field of a goal in an answer is required (nullable where null);
    - request bodies are closed: an unknown or read-only key is a 422 (``additionalProperties``);
    - a title's length is counted after trimming, which JSON Schema cannot say;
    - an empty filter value means "not given" (``?status=`` lists as if absent).
    """
    schemas = result.get("components", {}).get("schemas", {})
    if "Goal" in schemas:
        # Every answer carries every field (null where the contract says so): generated clients
        # must not type `status` or `description` as possibly absent.
        schemas["Goal"]["required"] = list(schemas["Goal"]["properties"])
    for name in ("GoalRequest", "PatchedGoalRequest"):
        if name in schemas:
            schemas[name]["additionalProperties"] = False
            # The title's length counts after trimming: "  a  " is fine, and so is a
            # 200-character title sent with surrounding spaces (found by schemathesis).
            title = schemas[name]["properties"]["title"]
            title.pop("maxLength", None)
            title.pop("minLength", None)
            title["description"] = "1 to 200 characters once surrounding whitespace is trimmed."
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                if parameter.get("in") == "query" and parameter["name"] in EMPTY_MEANS_ABSENT:
                    parameter["allowEmptyValue"] = True
    return result


EMPTY_MEANS_ABSENT = {
    "status",
    "goal_type",
    "value_category",
    "ordering",
    "updated_after",
    "updated_before",
    "created_after",
    "created_before",
    "target_date_after",
    "target_date_before",
    "q",
    "occurred_after",  # the history's and the insights' (goals.history_serializers)
    "occurred_before",
    "page_size",  # the default page size (an empty cursor names no position: 422)
    "tz",
}

"""The history and insights routes in the OpenAPI document (docs/openapi.yaml, checked equal to
the generated one by tests/test_openapi.py): readable operation ids, every answer declared,
every always-present field required, examples."""

import pytest
import yaml
from django.core.management import call_command

ROUTES = {
    ("/api/v1/goals/{id}/history", "get"): "listGoalHistory",
    ("/api/v1/goals/history", "get"): "listAllGoalHistory",
    ("/api/v1/goals/insights", "get"): "getGoalInsights",
}


@pytest.fixture(scope="module")
def schema() -> dict:
    from io import StringIO

    out = StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    return yaml.safe_load(out.getvalue())


def test_each_route_is_one_named_get(schema):
    for (path, method), operation_id in ROUTES.items():
        assert set(schema["paths"][path]) == {method}, path
        operation = schema["paths"][path][method]
        assert operation["operationId"] == operation_id
        assert operation["tags"] == ["goals"]
        assert operation["security"] == [{"ClerkBearer": []}]


def test_every_answer_the_routes_give_is_declared(schema):
    common = {"200", "401", "406", "411", "413", "422", "429", "503"}
    for (path, method), _ in ROUTES.items():
        responses = set(schema["paths"][path][method]["responses"])
        expected = common | ({"404"} if "{id}" in path else set())
        assert responses == expected, path
        answers = schema["paths"][path][method]["responses"]
        assert "Retry-After" in answers["429"]["headers"]
        assert "Retry-After" in answers["503"]["headers"]
        assert "WWW-Authenticate" in answers["401"]["headers"]
        assert answers["200"]["content"]["application/json"]["examples"]


def test_every_field_of_an_answer_is_required(schema):
    components = schema["components"]["schemas"]
    for name in (
        "GoalHistoryPage",
        "GoalEvent",
        "GoalInsights" if "GoalInsights" in components else "Insights",
        "ByValueCategory",
        "ByGoalType",
        "StatusCounts",
        "TypeCounts",
        "CompletedGoals",
    ):
        component = components[name]
        assert set(component["required"]) == set(component["properties"]), name
    assert set(components["ByValueCategory"]["properties"]) == {
        "health",
        "craft",
        "growth",
        "connection",
    }
    assert set(components["StatusCounts"]["properties"]) == {
        "active",
        "paused",
        "completed",
        "archived",
    }
    event = components["GoalEvent"]["properties"]
    assert event["changes"]["additionalProperties"]["required"] == ["from", "to"]
    assert components["GoalHistoryPage"]["properties"]["next_cursor"]["nullable"] is True
    assert components["TypeCounts"]["properties"]["completion_rate"]["nullable"] is True


def test_the_parameters_are_declared_with_examples(schema):
    def parameters(path: str) -> dict:
        return {
            p["name"]: p for p in schema["paths"][path]["get"]["parameters"] if p["in"] == "query"
        }

    assert set(parameters("/api/v1/goals/{id}/history")) == {"cursor", "page_size"}
    assert set(parameters("/api/v1/goals/history")) == {
        "cursor",
        "page_size",
        "occurred_after",
        "occurred_before",
        "goal_type",
        "value_category",
    }
    assert set(parameters("/api/v1/goals/insights")) == {"tz"}
    for path in ("/api/v1/goals/{id}/history", "/api/v1/goals/history", "/api/v1/goals/insights"):
        for name, parameter in parameters(path).items():
            assert parameter["examples"], name
            # An empty value is a value not given (as on the list); an empty cursor a 422.
            empty_is_absent = name != "cursor"
            assert parameter.get("allowEmptyValue", False) is empty_is_absent, name
            # Every example holds to the parameter's own schema (the empty one where it is
            # valid: Swagger UI and schemathesis send examples).
            for example in parameter["examples"].values():
                if example["value"] == "":
                    assert empty_is_absent, name
                    assert parameter["schema"]["type"] == "string", name
                    assert "enum" not in parameter["schema"], name
    assert parameters("/api/v1/goals/history")["page_size"]["schema"]["maximum"] == 100

"""The committed OpenAPI document (docs/openapi.yaml) is the one the code generates."""

from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command

COMMITTED = Path(__file__).resolve().parents[1] / "docs" / "openapi.yaml"


@pytest.fixture(scope="module")
def schema_text() -> str:
    out = StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    return out.getvalue()


def test_committed_schema_is_up_to_date(schema_text):
    assert COMMITTED.read_text() == schema_text, "run `make schema` and commit docs/openapi.yaml"


def test_schema_documents_the_real_responses(schema_text):
    schema = yaml.safe_load(schema_text)
    assert schema["components"]["securitySchemes"]["ClerkBearer"]["scheme"] == "bearer"
    paths = schema["paths"]
    assert {"/api/v1/goals", "/api/v1/goals/{id}"} <= set(paths)
    goal_paths = {path: paths[path] for path in ("/api/v1/goals", "/api/v1/goals/{id}")}
    operations = {
        (path, method): set(operation["responses"])
        for path, item in goal_paths.items()
        for method, operation in item.items()
        if method != "parameters"
    }
    common = {"401", "411", "413", "429", "503"}
    writes = {"400", "406", "415", "422"}
    assert operations == {
        ("/api/v1/goals", "get"): {"200", "406", "422", *common},
        ("/api/v1/goals", "post"): {"201", "409", *writes, *common},
        ("/api/v1/goals/{id}", "get"): {"200", "304", "404", "406", *common},
        ("/api/v1/goals/{id}", "patch"): {"200", "404", "412", *writes, *common},
        ("/api/v1/goals/{id}", "delete"): {"200", "404", "406", "412", *common},
    }
    listed = paths["/api/v1/goals"]["get"]["responses"]["200"]["content"]["application/json"][
        "schema"
    ]
    assert listed["$ref"].endswith("PaginatedGoalList")
    parameters = {p["name"] for p in paths["/api/v1/goals"]["get"]["parameters"]}
    assert {"status", "goal_type", "value_category", "ordering", "page", "page_size"} <= parameters
    assert {"updated_after", "created_before", "target_date_after", "q"} <= parameters


def test_the_schema_is_written_for_generated_clients(schema_text):
    """Readable operation ids and one tag; every header the routes send; every field of an
    answer required (generated types must not call `status` optional)."""
    schema = yaml.safe_load(schema_text)
    operations = {
        operation["operationId"]: operation
        for path in ("/api/v1/goals", "/api/v1/goals/{id}")
        for method, operation in schema["paths"][path].items()
    }
    assert set(operations) == {"listGoals", "createGoal", "getGoal", "updateGoal", "archiveGoal"}
    assert all(operation["tags"] == ["goals"] for operation in operations.values())

    def headers(operation_id: str, status: str) -> set[str]:
        return set(operations[operation_id]["responses"][status].get("headers", {}))

    assert {"Location", "ETag", "Idempotent-Replayed"} <= headers("createGoal", "201")
    assert "Link" in headers("listGoals", "200")
    assert "ETag" in headers("getGoal", "200")
    assert "WWW-Authenticate" in headers("getGoal", "401")
    assert "Retry-After" in headers("listGoals", "429")
    assert "Retry-After" in headers("updateGoal", "503")
    assert "ETag" in headers("getGoal", "304")  # RFC 9110: a 304 carries the validator
    # Headers every such answer carries are required, so generated types are not optional.
    answer_headers = operations["createGoal"]["responses"]["201"]["headers"]
    assert [name for name, header in answer_headers.items() if header.get("required")] == [
        "Location",
        "ETag",
        "X-Request-ID",
    ]
    (key,) = [p for p in operations["createGoal"]["parameters"] if p["name"] == "Idempotency-Key"]
    assert key["schema"] == {
        "type": "string",
        "minLength": 1,
        "maxLength": 255,
        "pattern": "^[!-~]+$",
    }
    goal = schema["components"]["schemas"]["Goal"]
    for name in ("Goal", "GoalRequest", "PatchedGoalRequest"):  # no internal notes published
        assert "description" not in schema["components"]["schemas"][name], name
    assert goal["required"] == list(goal["properties"])
    assert goal["properties"]["description"]["nullable"] is True
    assert "GoalRequest" in schema["components"]["schemas"]  # requests have their own shape
    for operation in operations.values():
        for parameter in operation.get("parameters", []):
            if parameter["name"] in {"updated_after", "q", "target_date_before", "Idempotency-Key"}:
                assert parameter.get("examples"), parameter["name"]


def test_schema_and_docs_are_served(client):
    assert client.get("/api/v1/schema").status_code == 200
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert b"persistAuthorization" in docs.content
    assert client.get("/redoc").status_code == 200


@pytest.mark.parametrize("path", ["/api/v1/schema", "/docs", "/redoc"])
def test_the_docs_are_public_whatever_token_the_browser_sends(client, path):
    """A stale or bad token (Swagger UI keeps the one authorized) was a 401 for the document."""
    assert client.get(path, HTTP_AUTHORIZATION="Bearer stale.or.bad").status_code == 200


def test_the_schema_s_errors_are_the_api_s_json(client):
    """Rendered by the YAML renderer, a 406 was DRF's error objects dumped as YAML."""
    response = client.get("/api/v1/schema", HTTP_ACCEPT="text/html")
    assert response.status_code == 406
    assert response["Content-Type"] == "application/json"
    assert set(response.json()) == {"detail"}
    assert client.get("/api/v1/schema", HTTP_ACCEPT="application/json").json()["openapi"]


def test_errors_every_operation_can_meet_are_declared_on_every_operation(schema_text):
    """A body is measured (413) or refused unread (411) before the route is known: a GET or a
    DELETE sent with one meets them too."""
    schema = yaml.safe_load(schema_text)
    for path in ("/api/v1/goals", "/api/v1/goals/{id}"):
        for method, operation in schema["paths"][path].items():
            assert {"401", "411", "413", "429", "503"} <= set(operation["responses"]), (
                path,
                method,
            )
    replayed = schema["paths"]["/api/v1/goals"]["post"]["responses"]["201"]["headers"]
    assert replayed["Idempotent-Replayed"]["schema"] == {"type": "string", "enum": ["true"]}

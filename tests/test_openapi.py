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
    assert set(paths) == {"/api/v1/goals", "/api/v1/goals/{id}", "/api/v1/webhooks/clerk"}
    operations = {
        (path, method): set(operation["responses"])
        for path, item in paths.items()
        for method, operation in item.items()
        if method != "parameters"
    }
    assert operations == {
        ("/api/v1/goals", "get"): {"200", "401", "422", "503"},
        ("/api/v1/goals", "post"): {"201", "400", "401", "413", "415", "422", "503"},
        ("/api/v1/goals/{id}", "get"): {"200", "304", "401", "404", "503"},
        ("/api/v1/goals/{id}", "patch"): {
            "200",
            "400",
            "401",
            "404",
            "412",
            "413",
            "415",
            "422",
            "503",
        },
        ("/api/v1/goals/{id}", "delete"): {"200", "401", "404", "412", "503"},
        ("/api/v1/webhooks/clerk", "post"): {"200", "400", "401", "404", "413", "503"},
    }
    listed = paths["/api/v1/goals"]["get"]["responses"]["200"]["content"]["application/json"][
        "schema"
    ]
    assert listed["$ref"].endswith("PaginatedGoalList")
    parameters = {p["name"] for p in paths["/api/v1/goals"]["get"]["parameters"]}
    assert {"status", "goal_type", "value_category", "ordering", "page", "page_size"} <= parameters


def test_schema_and_docs_are_served(client):
    assert client.get("/api/v1/schema").status_code == 200
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert b"persistAuthorization" in docs.content
    assert client.get("/redoc").status_code == 200

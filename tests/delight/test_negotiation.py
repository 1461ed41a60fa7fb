import pytest

pytestmark = pytest.mark.django_db

GOALS = "/api/v1/goals"


@pytest.mark.parametrize(
    "accept", [None, "*/*", "application/json", "application/json; q=0.9, */*"]
)
def test_api_clients_get_json(api, goal, accept):
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    response = api.get(GOALS, **headers)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"


def test_browsers_get_the_browsable_api(api, goal):
    response = api.get(GOALS, HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8")
    assert response["Content-Type"].startswith("text/html")


def test_format_override_still_works(api, goal):
    assert api.get(GOALS, {"format": "api"})["Content-Type"].startswith("text/html")
    assert api.get(GOALS, {"format": "json"})["Content-Type"] == "application/json"


def test_an_unsatisfiable_accept_is_406(api, goal):
    response = api.get(GOALS, HTTP_ACCEPT="application/xml")
    assert response.status_code == 406
    assert response["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    ("accept", "content_type"),
    [
        ("application/json", "application/json"),
        ("application/vnd.oai.openapi+json", "application/vnd.oai.openapi+json"),
        (None, "application/vnd.oai.openapi"),
        ("*/*", "application/vnd.oai.openapi"),
        ("application/yaml", "application/yaml"),
    ],
)
def test_the_schema_is_json_when_json_is_asked_for(client, accept, content_type):
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    response = client.get("/api/v1/schema", **headers)
    assert response.status_code == 200
    assert response["Content-Type"].split(";")[0] == content_type
    if "json" in content_type:
        assert response.json()["openapi"].startswith("3.")

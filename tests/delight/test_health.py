import pytest
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder

from delight import health


def test_healthz_is_200_without_touching_the_database(client):
    # No django_db mark: pytest-django makes any database access in this test raise.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_is_200_when_the_database_answers_and_is_migrated(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


@pytest.mark.django_db(transaction=True)
def test_readyz_is_503_when_a_migration_is_not_applied(client, monkeypatch):
    monkeypatch.setattr(health, "_fully_migrated", False)
    recorder = MigrationRecorder(connection)
    latest = recorder.migration_qs.filter(app="goals").order_by("-name").first()  # the leaf
    latest.delete()
    try:
        response = client.get("/readyz")
    finally:
        recorder.record_applied("goals", latest.name)
    assert response.status_code == 503
    assert response["Retry-After"]
    assert response.json() == {"detail": "Database migrations are not applied."}


@pytest.mark.django_db(transaction=True)
def test_readyz_is_503_when_the_database_is_unreachable(client):
    connection.close()
    saved = dict(connection.settings_dict)
    # A port where nothing listens: a real connection failure, not a mock.
    connection.settings_dict.update({"HOST": "127.0.0.1", "PORT": "9"})
    try:
        response = client.get("/readyz")
        health_response = client.get("/healthz")
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "The database is unavailable."}
    assert health_response.status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
@pytest.mark.parametrize("host", ["127.0.0.1:8000", "172.30.0.5", "10.1.2.3:8000"])
def test_probes_answer_the_address_orchestrators_probe_by(client, settings, path, host):
    """Docker's HEALTHCHECK, compose's and the proxy's probe by the container's own address,
    not by the public host name the service is configured with."""
    settings.ALLOWED_HOSTS = ["api.delight.example"]
    settings.SECURE_SSL_REDIRECT = True
    response = client.get(path, HTTP_HOST=host)
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


@pytest.mark.django_db
def test_every_other_path_keeps_the_host_check(client, settings):
    settings.ALLOWED_HOSTS = ["api.delight.example"]
    assert client.get("/api/v1/goals", HTTP_HOST="127.0.0.1").status_code == 400
    assert client.get("/healthz/", HTTP_HOST="127.0.0.1").status_code == 400
    assert client.get("/api/v1/goals", HTTP_HOST="api.delight.example").status_code == 401

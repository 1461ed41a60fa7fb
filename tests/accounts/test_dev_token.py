import re
from io import StringIO
from pathlib import Path

import jwt
import pytest
from django.core.management import CommandError, call_command, get_commands

from accounts import clerk, devkeys

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def dev_mode(settings, tmp_path: Path):
    """What settings do with DEBUG on and no Clerk key: trust a key pair made under .data/."""
    key_path = tmp_path / "dev-jwt-private.pem"
    settings.CLERK_DEV_KEY_PATH = key_path
    settings.CLERK_JWT_KEY = devkeys.public_pem(key_path)
    return key_path


def test_dev_key_is_made_once_and_kept(dev_mode):
    first = dev_mode.read_bytes()
    assert devkeys.public_pem(dev_mode)
    assert dev_mode.read_bytes() == first
    assert oct(dev_mode.stat().st_mode & 0o777) == "0o600"


def test_dev_token_verifies(dev_mode):
    out = StringIO()
    call_command("dev_token", "user_dev", "--ttl", "120", stdout=out)
    token = out.getvalue().strip()
    claims = clerk.verify(token)
    assert claims.sub == "user_dev"
    assert claims.raw["exp"] - claims.raw["iat"] == 120
    assert jwt.get_unverified_header(token)["kid"] == devkeys.DEV_KEY_ID


@pytest.mark.django_db
def test_dev_token_works_against_the_api(dev_mode, api_client):
    out = StringIO()
    call_command("dev_token", "user_dev", stdout=out)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {out.getvalue().strip()}")
    assert api_client.get("/api/v1/goals").status_code == 200


def test_dev_token_refuses_when_a_real_clerk_key_is_configured():
    with pytest.raises(CommandError, match="needs DJANGO_DEBUG=1"):
        call_command("dev_token", "user_dev")


@pytest.mark.parametrize("args", [["  "], ["user_dev", "--ttl", "0"]])
def test_dev_token_refuses_bad_arguments(dev_mode, args):
    with pytest.raises(CommandError):
        call_command("dev_token", *args)


def test_dev_welcome_prints_urls_and_a_curl_line(dev_mode):
    out = StringIO()
    call_command("dev_welcome", "--port", "8123", stdout=out)
    text = out.getvalue()
    assert "http://127.0.0.1:8123/docs" in text
    assert "http://127.0.0.1:8123/admin/" in text
    curl = next(line for line in text.splitlines() if "curl" in line)
    token = curl.split("Bearer ")[1].split("'")[0]
    assert clerk.verify(token).sub == "user_dev"


def test_dev_welcome_without_dev_keys():
    out = StringIO()
    call_command("dev_welcome", stdout=out)
    assert "Clerk keys are configured" in out.getvalue()


def _instructions(text: str) -> list[str]:
    """Every ``... manage.py <command>`` a text tells its reader to run."""
    return re.findall(r"([\w./]*python[\w.]*) manage\.py (\w+)", text)


def test_every_command_the_service_prints_works_as_printed(dev_mode, client):
    """The banner, the OpenAPI description (Swagger UI, ReDoc, the Authorize dialog) and the root
    page name the project's interpreter, which has Django, never a bare ``python``."""
    out = StringIO()
    call_command("dev_welcome", stdout=out)
    schema = client.get("/api/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi").content
    page = client.get("/", HTTP_ACCEPT="text/html").content.decode()
    found = [*_instructions(out.getvalue()), *_instructions(schema.decode()), *_instructions(page)]
    assert {command for _, command in found} >= {"createsuperuser", "dev_token"}
    for interpreter, command in found:
        assert interpreter == ".venv/bin/python", (interpreter, command)
        assert command in get_commands(), command
    assert (ROOT / ".venv/bin/python").exists(), "make install makes the interpreter printed"

"""Without Chromium the browser tests fail, saying how to install it: a missing browser must not
pass for a green run."""

from pathlib import Path

import pytest

from tests.browser.conftest import require_chromium


def test_a_missing_chromium_fails_with_the_way_to_install_it(tmp_path):
    with pytest.raises(pytest.fail.Exception) as failure:
        require_chromium(tmp_path / "chromium")
    message = str(failure.value)
    assert f"Chromium is not installed at {tmp_path / 'chromium'}" in message
    assert "make chromium" in message
    assert "apt-get install -y chromium" in message


def test_the_installed_chromium_is_used_by_path():
    assert require_chromium(Path("/usr/bin/chromium")) == "/usr/bin/chromium"

"""Framework tests import sagepipe from the template's generated-project source tree."""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
# sagepipe has no Jinja in it, so the template's copy is importable as it is; the
# example step package and helpers live next to these tests.
for _folder in (_HERE.parents[1] / "{{cookiecutter.project_slug}}" / "src", _HERE):
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))
# The moto-on-loopback helper ships with the generated project's tests; appended last so
# none of that folder's module names shadow the framework tests' own.
_PROJECT_TESTS = str(_HERE.parents[1] / "{{cookiecutter.project_slug}}" / "tests")
if _PROJECT_TESTS not in sys.path:
    sys.path.append(_PROJECT_TESTS)


import pytest  # noqa: E402


@pytest.fixture(scope="session")
def _aws_servers():
    """One moto server (and proxy) for the session; only AWS tests start it."""
    from aws_loopback import AwsOnLoopback

    servers = AwsOnLoopback()
    yield servers
    servers.close()


@pytest.fixture
def aws(_aws_servers, monkeypatch):
    """moto on loopback with a clean state, and boto3 pointed at it (dummy credentials)."""
    _aws_servers.reset()
    for key in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(key, raising=False)
    for key, value in _aws_servers.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    return _aws_servers

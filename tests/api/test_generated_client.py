"""A client generated from /openapi.json by openapi-python-client parses real answers of every route.

The generator pins an older typer than ours, so it lives in a virtual environment of its own, kept in a cache
directory (``CONTACTVAULT_TEST_CACHE``, default ``~/.cache/contactvault-tests``) with the wheels it was built
from, so later runs work offline. Without network and cache the test skips, unless
``CONTACTVAULT_TEST_REQUIRE_SERVICES=1`` or under CI, where it fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from contactvault.server.runtime import Runtime
from tests.api.tour import tour
from tests.api.wire import PublishedContract
from tests.factories import Account

GENERATOR = "openapi-python-client==0.29.1"
# The generated package imports httpx and attrs (the generator's own dependencies) and dateutil.
REQUIREMENTS = [GENERATOR, "python-dateutil==2.9.0.post0"]
CACHE = Path(os.environ.get("CONTACTVAULT_TEST_CACHE", Path.home() / ".cache" / "contactvault-tests"))
VENV = CACHE / "openapi-python-client-0.29.1"
WHEELS = CACHE / "wheels"
PARSER = Path(__file__).with_name("generated_client_parse.py")
CONFIG = "package_name_override: cv_client\nproject_name_override: cv-client\npost_hooks: []\n"

pytestmark = pytest.mark.slow


def _run(*args: str | Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout, check=False)


def _build_generator() -> str | None:
    """Make the generator's environment (from the cached wheels when there are any); why it failed, or None."""
    if (VENV / ".complete").exists():
        return None
    CACHE.mkdir(parents=True, exist_ok=True)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    fetched = _run(*pip, "download", "-d", WHEELS, *REQUIREMENTS)
    if fetched.returncode != 0 and not WHEELS.exists():
        return f"cannot download {GENERATOR}: {fetched.stderr.strip()[-300:]}"
    staging = Path(tempfile.mkdtemp(prefix="opc-", dir=CACHE))
    try:
        made = _run(sys.executable, "-m", "venv", staging)
        installed = made.returncode == 0 and (
            _run(staging / "bin" / "python", *pip[1:], "install", "--no-index", "--find-links", WHEELS, *REQUIREMENTS)
        )
        if not installed or installed.returncode != 0:
            return f"cannot install {GENERATOR}: {(installed or made).stderr.strip()[-300:]}"
        (staging / ".complete").touch()
        try:
            staging.rename(VENV)  # another run may have finished first: then use its environment
        except OSError:
            if not (VENV / ".complete").exists():
                raise
        return None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@pytest.fixture(scope="module")
def generator() -> Path:
    """The generator's environment (built once, then cached)."""
    problem = _build_generator()
    if problem is not None:
        if os.environ.get("CONTACTVAULT_TEST_REQUIRE_SERVICES") == "1" or os.environ.get("CI"):
            pytest.fail(problem)
        pytest.skip(f"{problem} (no network and no cached wheels; CI sets CONTACTVAULT_TEST_REQUIRE_SERVICES=1)")
    return VENV


def _case(contract: PublishedContract, document: dict[str, Any], response: Any) -> dict[str, Any]:
    method, path = response.request.method.lower(), response.request.url.path
    operation = document["paths"][contract.template(path)][method]
    content = operation["responses"].get(str(response.status_code), {}).get("content")
    schema = content["application/json"]["schema"] if content else {}
    refs = [v["$ref"] for v in schema.get("oneOf", [schema]) if "$ref" in v]
    return {
        "method": method.upper(),
        "path": path,
        "status": response.status_code,
        "headers": dict(response.headers),
        "body": response.text,
        "operationId": operation["operationId"],
        "models": [r.rsplit("/", 1)[1] for r in refs] or [None],
    }


def test_a_generated_client_parses_every_answer_of_every_route(
    generator: Path, directory: Runtime, client: TestClient, account: Account, tmp_path: Path
) -> None:
    document = client.get("/openapi.json").json()
    (tmp_path / "openapi.json").write_text(json.dumps(document))
    (tmp_path / "config.yaml").write_text(CONFIG)
    package = tmp_path / "cv_client"
    generated = _run(
        generator / "bin" / "python",  # not the console script: its shebang names the staging directory
        "-m",
        "openapi_python_client",
        "generate",
        "--path",
        tmp_path / "openapi.json",
        "--output-path",
        package,
        "--config",
        tmp_path / "config.yaml",
        "--meta",
        "none",
        timeout=120,
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    assert "Warning" not in generated.stdout, generated.stdout  # nothing of the document was left out

    contract = PublishedContract(document)
    answers = tour(directory, client, account)
    cases = [_case(contract, document, r) for r in answers]
    operations = {c["operationId"] for c in cases}
    assert len(operations) == sum(len(methods) for methods in document["paths"].values())  # every route
    assert {c["status"] for c in cases} >= {200, 201, 304, 400, 401, 402, 404, 413, 422, 429}
    (tmp_path / "cases.json").write_text(json.dumps(cases))

    parsed = _run(generator / "bin" / "python", PARSER, package, tmp_path / "cases.json", timeout=120)
    assert parsed.returncode == 0, parsed.stderr
    failures = json.loads(parsed.stdout)
    assert failures == []

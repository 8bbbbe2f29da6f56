"""The conformance suite runs for every service in services.yaml, without being told about it.

Each service is started once (``hailo-services run <svc> --engine cpu``) with an API key and a small
body limit. A service whose CPU model is not packaged can say how to make it ready for tests in
``tests/services/<package>/provision.py``: ``provision(workdir: Path) -> dict`` puts files under
``workdir / "models"`` and returns config overrides. Without one, the service runs unready, and the
suite checks that it says why.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conformance_support import API_KEY, BODY_TIMEOUT_S, MAX_BODY, Running

from hailo_services.services import SERVICES
from harness import start_service, stop_service

TESTS = Path(__file__).resolve().parents[1]


def _provision(package: str, workdir: Path) -> dict[str, Any] | None:
    path = TESTS / "services" / package / "provision.py"
    if not path.is_file():
        return None
    spec = importlib.util.spec_from_file_location(f"provision_{package}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.provision(workdir)


def _wait_ready(url: str, timeout_s: float = 180) -> bool:
    """True once the service serves its default model; False at once when it says a file is missing."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        r = httpx.get(f"{url}/health/ready")
        if r.status_code == 200:
            return True
        if "missing" in r.json().get("reason", ""):
            return False
        time.sleep(0.2)
    raise AssertionError(f"{url} neither became ready nor said what is missing in {timeout_s} s")


@pytest.fixture(scope="module", params=sorted(SERVICES), ids=str)
def service(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    info = SERVICES[request.param]
    workdir = tmp_path_factory.mktemp(info.package)
    (workdir / "models").mkdir()
    overrides = _provision(info.package, workdir)
    config = {
        "api_key": API_KEY,
        "max_body_bytes": MAX_BODY,
        "body_timeout_s": BODY_TIMEOUT_S,
        "request_timeout_s": 30,
        "queue_timeout_s": 30,
        **(overrides or {}),
    }
    svc = start_service(info.name, workdir, config, wait_ready=False)
    try:
        openapi = httpx.get(f"{svc.url}/openapi.json", headers={"Authorization": f"Bearer {API_KEY}"}).json()
        yield Running(svc, info.name, overrides is not None, _wait_ready(svc.url), openapi)
    finally:
        stop_service(svc)

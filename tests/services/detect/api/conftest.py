"""A real hailo-detect (``hailo-services run hailo-detect``, CPU engine, the packaged SSD-MobileNet-v2)
and real photos from scikit-image's wheel."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from skimage import data

from harness import Service, jpeg, start_service, stop_service

API_KEY = "frigate-key"


@pytest.fixture(scope="session")
def api_key() -> str:
    return API_KEY


@pytest.fixture(scope="session")
def photos() -> dict[str, bytes]:
    return {"cat": jpeg(data.chelsea()), "coffee": jpeg(data.coffee()), "astronaut": jpeg(data.astronaut())}


@pytest.fixture(scope="session")
def detect(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    svc = start_service("hailo-detect", tmp_path_factory.mktemp("detect"), {"max_body_bytes": 4 * 1024 * 1024})
    yield svc
    stop_service(svc)


@pytest.fixture(scope="session")
def detect_with_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    svc = start_service("hailo-detect", tmp_path_factory.mktemp("detect-key"), {"api_key": API_KEY})
    yield svc
    stop_service(svc)

"""hailo-whisper as ``hailo-services run whisper`` (CPU engine, the packaged tiny.en), with its Wyoming
server on a free port, for every API test in this directory."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from harness import Service, free_port, start_service, stop_service


@dataclass
class Whisper:
    svc: Service
    wyoming_port: int

    @property
    def url(self) -> str:
        return self.svc.url


@pytest.fixture(scope="module")
def whisper(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Whisper]:
    workdir = tmp_path_factory.mktemp("whisper")
    port = free_port()
    config = {"wyoming": {"port": port, "max_event_bytes": 1024 * 1024}, "audio": {"max_duration_s": 120}}
    svc = start_service("hailo-whisper", workdir, config, timeout=120)
    try:
        yield Whisper(svc, port)
    finally:
        stop_service(svc)

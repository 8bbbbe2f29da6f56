"""Helpers shared by the unit tests: clean environments, free ports, real servers in threads."""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import uvicorn

# Variables that would leak host configuration into settings, sd_notify or HTTP clients.
SCRUBBED_PREFIXES = ("HAILO_OLLAMA_", "HAILO_SERVICE_")
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

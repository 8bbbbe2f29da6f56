"""The app factory and middleware, served by a real uvicorn server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from starlette.requests import Request

from hailo_services import __version__
from hailo_services.core.app import create_service_app
from hailo_services.core.errors import NotFound, QueueFull, openai_error, plain_error
from hailo_services.core.metrics import ServiceMetrics
from hailo_services.core.request_body import parse_json
from hailo_services.core.runtime import ModelNotPresent, ServiceRuntime
from hailo_services.core.settings import ServiceSettings

GUARD_S = 10.0
SECRET = "internal detail 7f3a"


class FakeRuntime:
    """A ServiceRuntime test double: start() can be held back by a gate, or fail."""

    engine_name = "fake"

    def __init__(self, *, gate: threading.Event | None = None, fail: Exception | None = None):
        self.gate = gate
        self.fail = fail
        self.started = False
        self.stopped = False

    def model_name(self) -> str:
        return "fake-model:1b"

    async def start(self) -> None:
        if self.gate is not None:
            while not self.gate.is_set():
                await asyncio.sleep(0.01)
        if self.fail is not None:
            raise self.fail
        self.started = True

    async def stop(self) -> None:
        self.stopped = True

    def readiness(self) -> tuple[bool, str]:
        return (True, "model loaded") if self.started else (False, "model_loading")

    def health_details(self) -> dict[str, Any]:
        return {"loaded_models": ["fake-model:1b"] if self.started else []}


def build_app(runtime: ServiceRuntime | None = None, *, render=plain_error, listeners=(), **settings: Any) -> FastAPI:
    runtime = runtime or FakeRuntime()
    app = create_service_app(
        settings=ServiceSettings.load(**settings),
        runtime=runtime,
        metrics=ServiceMetrics("test-svc"),
        render_error=render,
        title="test",
        listeners=listeners,
    )

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"received": len(await request.body())}

    @app.post("/v1/parsed")
    async def parsed(request: Request) -> dict[str, Any]:
        from pydantic import BaseModel

        class Body(BaseModel):
            name: str

        return {"name": (await parse_json(request, Body)).name}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError(SECRET)

    @app.get("/missing-model")
    async def missing_model() -> None:
        raise NotFound("model 'x' not found")

    @app.get("/busy")
    async def busy() -> None:
        raise QueueFull("busy", retry_after=3.4)

    return app


@pytest.fixture
def client():
    clients: list[httpx.Client] = []

    def make(st) -> httpx.Client:
        c = httpx.Client(base_url=st.url, timeout=GUARD_S, trust_env=False)
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.close()


def wait_ready(c: httpx.Client) -> httpx.Response:
    deadline = time.monotonic() + GUARD_S
    while True:
        r = c.get("/health/ready")
        if r.status_code == 200 or time.monotonic() > deadline:
            return r
        time.sleep(0.02)


# -- health and readiness ----------------------------------------------------------------------


def test_health_fields(serve, client):
    c = client(serve(build_app()))
    wait_ready(c)
    r = c.get("/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert body["service"] == "hailo-service"
    assert body["version"] == __version__
    assert body["engine"] == "fake"
    assert body["model"] == "fake-model:1b"
    assert body["ready"] is True
    assert isinstance(body["uptime_s"], float | int) and body["uptime_s"] >= 0
    assert body["loaded_models"] == ["fake-model:1b"]  # runtime.health_details() merged in


def test_ready_is_503_while_start_runs_then_200(serve, client):
    gate = threading.Event()
    runtime = FakeRuntime(gate=gate)
    st = serve(build_app(runtime))
    c = client(st)
    try:
        r = c.get("/health/ready")
        assert r.status_code == 503
        assert r.json() == {
            "ready": False,
            "reason": "model_loading",
            "engine": "fake",
            "model": "fake-model:1b",
        }
        assert c.get("/health").json()["ready"] is False
        assert c.get("/health").status_code == 200  # liveness is independent of readiness
    finally:
        gate.set()
    r = wait_ready(c)
    assert r.status_code == 200
    assert r.json()["ready"] is True and r.json()["reason"] == "model loaded"
    st.stop()
    assert runtime.stopped, "the lifespan did not call runtime.stop() at shutdown"


def test_model_not_present_keeps_service_up_but_not_ready(serve, client):
    reason = "model 'fake-model:1b' is not downloaded (pull it)"
    c = client(serve(build_app(FakeRuntime(fail=ModelNotPresent(reason)))))
    deadline = time.monotonic() + GUARD_S
    while (r := c.get("/health/ready")).json()["reason"] != reason and time.monotonic() < deadline:
        time.sleep(0.02)
    assert r.status_code == 503
    assert r.json()["ready"] is False
    assert r.json()["reason"] == reason
    health = c.get("/health")
    assert health.status_code == 200 and health.json()["ready"] is False
    assert c.get("/items/1").status_code == 200  # the API still answers (so a pull can fix it)


def test_failed_load_is_not_ready_with_the_error(serve, client):
    c = client(serve(build_app(FakeRuntime(fail=RuntimeError("weights are corrupt")))))
    deadline = time.monotonic() + GUARD_S
    while "failed" not in (r := c.get("/health/ready")).json()["reason"] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert r.status_code == 503
    assert r.json()["reason"] == "model load failed: weights are corrupt"


# -- metrics -----------------------------------------------------------------------------------


def request_counts(c: httpx.Client) -> dict[tuple[str, str, str], float]:
    r = c.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            if s.name == "hailo_requests_total":
                assert s.labels["service"] == "test-svc"
                out[(s.labels["endpoint"], s.labels["method"], s.labels["code"])] = s.value
    return out


def test_metrics_count_requests_by_route_template(serve, client):
    c = client(serve(build_app()))
    for i in (1, 2, 3):
        assert c.get(f"/items/{i}").status_code == 200
    assert c.get("/nope/at/all").status_code == 404
    assert c.get("/missing-model").status_code == 404
    counts = request_counts(c)
    assert counts[("/items/{item_id}", "GET", "200")] == 3
    assert counts[("unmatched", "GET", "404")] == 1
    assert counts[("/missing-model", "GET", "404")] == 1
    assert not any(endpoint.startswith("/items/1") for endpoint, _, _ in counts)
    text = c.get("/metrics").text
    assert 'hailo_request_duration_seconds_count{endpoint="/items/{item_id}",service="test-svc"} 3.0' in text
    assert "hailo_service_info{" in text and 'engine="fake"' in text


# -- body limit --------------------------------------------------------------------------------


def chunks(total: int, size: int = 256):
    sent = 0
    while sent < total:
        n = min(size, total - sent)
        yield b"x" * n
        sent += n


def test_body_within_limit_passes(serve, client):
    c = client(serve(build_app(max_body_bytes=1000)))
    assert c.post("/echo", content=b"x" * 1000).json() == {"received": 1000}
    assert c.post("/echo", content=chunks(1000)).json() == {"received": 1000}


def test_body_over_limit_with_content_length_is_413(serve, client):
    c = client(serve(build_app(max_body_bytes=1000)))
    r = c.post("/echo", content=b"x" * 1001)
    assert r.status_code == 413
    assert r.json() == {"error": "request body is larger than the limit of 1000 bytes"}


def test_body_over_limit_chunked_is_413(serve, client):
    c = client(serve(build_app(max_body_bytes=1000)))
    request = c.build_request("POST", "/echo", content=chunks(5000))
    assert "content-length" not in request.headers
    assert request.headers["transfer-encoding"] == "chunked"
    r = c.send(request)
    assert r.status_code == 413
    assert r.json() == {"error": "request body is larger than the limit of 1000 bytes"}


def test_body_over_limit_in_openai_shape(serve, client):
    c = client(serve(build_app(render=openai_error, max_body_bytes=100)))
    r = c.post("/v1/parsed", content=chunks(500))
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "request_too_large"
    assert r.json()["error"]["type"] == "invalid_request_error"


# -- API key -----------------------------------------------------------------------------------


@pytest.fixture
def keyed(serve, client):
    return client(serve(build_app(api_key="s3cret-key")))


def test_api_key_missing_is_401(keyed):
    r = keyed.get("/items/1")
    assert r.status_code == 401
    assert "API key" in r.json()["error"]


@pytest.mark.parametrize(
    "headers",
    [{"Authorization": "Bearer wrong"}, {"x-api-key": "wrong"}, {"Authorization": "Basic s3cret-key"}],
)
def test_api_key_wrong_is_401(keyed, headers):
    assert keyed.get("/items/1", headers=headers).status_code == 401


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer s3cret-key"},
        {"Authorization": "bearer s3cret-key"},
        {"x-api-key": "s3cret-key"},
        {"x-api-key": "wrong", "Authorization": "Bearer s3cret-key"},
    ],
)
def test_api_key_accepted(keyed, headers):
    r = keyed.get("/items/7", headers=headers)
    assert r.status_code == 200
    assert r.json() == {"id": 7}


def test_health_is_open_without_key(keyed):
    assert keyed.get("/health").status_code == 200
    assert keyed.get("/health/ready").status_code in (200, 503)
    assert keyed.get("/health/ready").json()["engine"] == "fake"


def test_api_key_checked_before_the_body_limit(serve, client):
    c = client(serve(build_app(api_key="k", max_body_bytes=10)))
    assert c.post("/echo", content=b"x" * 100).status_code == 401


def test_api_key_error_in_openai_shape(serve, client):
    c = client(serve(build_app(render=openai_error, api_key="k")))
    r = c.get("/v1/anything")
    assert r.status_code == 401
    assert r.json()["error"]["type"] == "authentication_error"
    assert r.json()["error"]["code"] == "invalid_api_key"


# -- errors ------------------------------------------------------------------------------------


def test_unknown_route_is_404_in_plain_shape(serve, client):
    c = client(serve(build_app()))
    r = c.get("/no/such/route")
    assert r.status_code == 404
    assert r.json() == {"error": "no route for GET /no/such/route"}


def test_unknown_route_is_404_in_openai_shape(serve, client):
    c = client(serve(build_app(render=openai_error)))
    r = c.get("/v1/nothing")
    assert r.status_code == 404
    assert r.json() == {
        "error": {
            "message": "no route for GET /v1/nothing",
            "type": "invalid_request_error",
            "param": None,
            "code": "not_found",
        }
    }


def test_wrong_method_is_405(serve, client):
    c = client(serve(build_app(render=openai_error)))
    r = c.delete("/items/1")
    assert r.status_code == 405
    assert r.json()["error"]["code"] == "method_not_allowed"


def test_service_error_rendered_with_status_and_retry_after(serve, client):
    c = client(serve(build_app(render=openai_error)))
    r = c.get("/missing-model")
    assert r.status_code == 404
    assert r.json()["error"] == {
        "message": "model 'x' not found",
        "type": "invalid_request_error",
        "param": None,
        "code": "model_not_found",
    }
    r = c.get("/busy")
    assert r.status_code == 503
    assert r.headers["retry-after"] == "3"
    assert r.json()["error"]["code"] == "queue_full"


def test_path_validation_error_is_400(serve, client):
    c = client(serve(build_app()))
    r = c.get("/items/not-a-number")
    assert r.status_code == 400
    assert r.json()["error"].startswith("invalid request")


@pytest.mark.parametrize(
    ("content", "fragment"),
    [(b"{not json", "not valid JSON"), (b"", "empty"), (b"[1, 2]", "JSON object"), (b'{"name": 5}', "name")],
)
def test_parse_json_errors_are_400(serve, client, content, fragment):
    c = client(serve(build_app(render=openai_error)))
    r = c.post("/v1/parsed", content=content, headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert fragment in r.json()["error"]["message"]


def test_unexpected_exception_is_500_json_without_traceback(serve, client):
    st = serve(build_app())
    c = client(st)
    r = c.get("/boom")
    assert r.status_code == 500
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"error": "internal error: RuntimeError"}
    assert SECRET not in r.text
    assert "Traceback" not in r.text
    # The server is still healthy afterwards (on a new connection: see the keep-alive test below).
    c2 = client(st)
    assert c2.get("/items/2").status_code == 200
    counts = request_counts(c2)
    assert counts[("/boom", "GET", "500")] == 1


def raw_request(sock: socket.socket, path: str) -> tuple[int, bytes]:
    """Send one keep-alive GET on ``sock`` and read exactly one response (status, body)."""
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"server closed the connection before answering {path}")
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = next(int(v) for k, _, v in (ln.partition(":") for ln in lines[1:]) if k.lower() == "content-length")
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection mid-body")
        body += chunk
    return status, body


def test_keep_alive_survives_a_service_error(serve):
    st = serve(build_app())
    with socket.create_connection(("127.0.0.1", st.port), timeout=GUARD_S) as sock:
        assert raw_request(sock, "/missing-model")[0] == 404
        assert raw_request(sock, "/items/1") == (200, b'{"id":1}')


def test_keep_alive_survives_an_unexpected_exception(serve):
    st = serve(build_app())
    with socket.create_connection(("127.0.0.1", st.port), timeout=GUARD_S) as sock:
        status, body = raw_request(sock, "/boom")
        assert status == 500 and json.loads(body) == {"error": "internal error: RuntimeError"}
        try:
            second = raw_request(sock, "/items/1")
        except OSError as exc:  # ConnectionError (EOF) or ECONNRESET
            pytest.fail(f"the connection did not survive the 500: {exc!r}")
        assert second == (200, b'{"id":1}')


def test_only_health_endpoints_are_public(serve, client):
    app = build_app(api_key="k")

    @app.get("/health-debug")
    async def debug() -> dict[str, str]:
        return {"secret": "data"}

    c = client(serve(app))
    assert c.get("/health-debug").status_code == 401


def test_listeners_run_beside_http_and_stop_before_the_model_is_unloaded(serve, client):
    """A listener (as the speech services' Wyoming servers will be) is a real TCP server started in
    the app's lifespan: it answers while the app runs, and is closed before runtime.stop()."""
    import contextlib

    events: list[str] = []
    runtime = FakeRuntime()
    port_box: dict[str, int] = {}

    @contextlib.asynccontextmanager
    async def echo_listener(app: FastAPI):
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(b"echo:" + await reader.readline())
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port_box["port"] = server.sockets[0].getsockname()[1]
        events.append("listening")
        try:
            yield
        finally:
            server.close()
            await server.wait_closed()
            events.append(f"closed (runtime stopped: {runtime.stopped})")

    st = serve(build_app(runtime, listeners=[echo_listener]))
    assert client(st).get("/health").status_code == 200
    with socket.create_connection(("127.0.0.1", port_box["port"]), timeout=GUARD_S) as sock:
        sock.sendall(b"hello\n")
        assert sock.makefile("rb").readline() == b"echo:hello\n"
    st.stop()
    assert events == ["listening", "closed (runtime stopped: False)"] and runtime.stopped
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port_box["port"]), timeout=2).close()

"""What every service does (core/), checked against each running service: health, readiness,
metrics, errors in the API's own shape (404/405/413/401), the API key, documented request bodies,
and schemathesis against its OpenAPI with no 5xx."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from conformance_support import API_KEY, MAX_BODY, Running, error_message


def test_health_is_open_and_describes_the_service(service: Running):
    r = httpx.get(f"{service.url}/health")
    assert r.status_code == 200
    body = r.json()
    assert body["service"] == service.name and body["engine"] == "cpu" and body["status"] == "ok"
    assert isinstance(body["ready"], bool) and body["model"]


def test_ready_or_says_which_file_is_missing_and_how_to_get_it(service: Running):
    r = httpx.get(f"{service.url}/health/ready")
    body = r.json()
    if service.provisioned or r.status_code == 200:
        assert r.status_code == 200 and body["ready"] is True, body
        return
    assert r.status_code == 503 and body["ready"] is False
    reason = body["reason"]
    assert "missing" in reason and "/" in reason, reason
    assert "hailo-services pull" in reason or "pip install" in reason, reason


def test_metrics_are_prometheus_text_with_the_hailo_prefix(service: Running):
    with service.client() as c:
        c.get("/health")
        r = c.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert f'hailo_requests_total{{code="200",endpoint="/health",method="GET",service="{service.name}"}}' in r.text
    assert "hailo_service_info{" in r.text and "hailo_queue_depth" in r.text


def test_every_route_but_health_needs_the_api_key(service: Running):
    ops = service.operations()
    assert ops, "the service documents no routes"
    for key in (None, "wrong-key"):
        with service.client(key) as c:
            for method, path, _ in ops:
                r = c.request(method, path.replace("{", "").replace("}", ""))
                assert r.status_code == 401, (method, path, r.status_code, r.text[:200])
                assert "API key" in error_message(r.json())
    assert httpx.get(f"{service.url}/health/ready").status_code in (200, 503)


def test_unknown_routes_are_404_in_the_apis_shape(service: Running):
    with service.client() as c:
        for path in ("/no-such-route", "/v1/no-such-route", "/api/no-such-route"):
            r = c.get(path)
            assert r.status_code == 404, path
            assert "no route" in error_message(r.json())


def test_wrong_method_is_405_in_the_apis_shape(service: Running):
    checked = 0
    with service.client() as c:
        for method, path, _ in service.operations():
            if method != "POST" or "get" in service.openapi["paths"][path] or "{" in path:
                continue
            r = c.get(path)
            assert r.status_code == 405, (path, r.status_code)
            error_message(r.json())
            checked += 1
    assert checked or not any(m == "POST" for m, _, _ in service.operations())


def test_bodies_over_the_limit_are_413_in_the_apis_shape(service: Running):
    big = b"\0" * (MAX_BODY + 1)
    with service.client() as c:
        for method, path, _ in service.operations():
            if method != "POST":
                continue
            url = path.replace("{model}", "m").replace("{", "").replace("}", "")
            r = c.post(url, content=big, headers={"content-type": "application/octet-stream"})
            assert r.status_code == 413, (path, r.status_code, r.text[:200])
            assert str(MAX_BODY) in error_message(r.json())


def test_every_post_documents_its_request_body(service: Running):
    """So /docs shows what to send, and schemathesis can generate it."""
    for method, path, op in service.operations():
        if method == "POST":
            content = op.get("requestBody", {}).get("content", {})
            assert content, f"{path}: no requestBody in the OpenAPI document"
            assert all("schema" in media for media in content.values()), path


# Its own subprocess limit is the bound: a service with many generating operations (hailo-vision's
# chat, completions and image analysis) takes minutes on 2 busy cores, past pytest's default 300 s.
@pytest.mark.timeout(1500)
def test_schemathesis_finds_no_server_error(service: Running, tmp_path: Path):
    """Property-based requests from the service's own OpenAPI: none may answer 5xx (a 503 with
    Retry-After for a full queue or a model that is not there yet is the API working as meant)."""
    examples = os.environ.get("HAILO_SCHEMATHESIS_EXAMPLES", "30")
    # A new seed each run finds more over time; a failure prints it so that it can be replayed.
    seed = os.environ.get("HAILO_SCHEMATHESIS_SEED") or str(random.randrange(2**32))
    cmd = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{service.url}/openapi.json",
        "--checks",
        "not_a_server_error",
        "--max-examples",
        examples,
        "--request-timeout",
        "60",
        "--workers",
        "1",
        "--no-shrink",
        "--seed",
        seed,
        "--generation-database",
        "none",
        "-H",
        f"Authorization: Bearer {API_KEY}",
        "--exclude-path-regex",
        "^/(health|metrics)",
        "--report-dir",
        str(tmp_path),
    ]
    # Operations that download models or delete them say so in their OpenAPI (x-hailo-fuzz: false).
    for _, path, op in service.operations():
        if op.get("x-hailo-fuzz") is False:
            cmd += ["--exclude-path", path]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=1500, env={**os.environ, "NO_COLOR": "1"})
    out = p.stdout + p.stderr
    assert p.returncode == 0, f"schemathesis seed {seed} (replay: HAILO_SCHEMATHESIS_SEED={seed})\n" + out[-6000:]

"""The service under test, as the conformance fixtures start it (see conftest.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from harness import Service

API_KEY = "conformance-key"
MAX_BODY = 2 * 1024 * 1024
BODY_TIMEOUT_S = 3  # short, so the slow-client test is quick


@dataclass
class Running:
    svc: Service
    name: str
    provisioned: bool
    ready: bool  # serves its default model (packaged or provisioned); else it says what is missing
    openapi: dict[str, Any]

    @property
    def url(self) -> str:
        return self.svc.url

    def client(self, key: str | None = API_KEY) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)

    def operations(self) -> list[tuple[str, str, dict[str, Any]]]:
        """(method, path, operation) of every documented route but the health probes."""
        out = []
        for path, item in self.openapi["paths"].items():
            if path.startswith("/health") or path == "/metrics":
                continue
            for method, op in item.items():
                if method in ("get", "post", "put", "patch", "delete"):
                    out.append((method.upper(), path, op))
        return out


def error_message(body: Any) -> str:
    """The message of an error body in one of our APIs' shapes; fails on anything else.

    OpenAI ``{"error": {"message", "type", "code"}}``, Ollama ``{"error": "..."}``, DeepStack /
    CodeProject.AI ``{"success": false, "error": "...", "code": <status>}``.
    """
    assert isinstance(body, dict) and "error" in body, body
    err = body["error"]
    if isinstance(err, dict):
        assert isinstance(err.get("message"), str) and err["message"] and "type" in err, body
        return err["message"]
    assert isinstance(err, str) and err, body
    if "success" in body:
        assert body["success"] is False and isinstance(body["code"], int), body
    assert "Traceback" not in err
    return err

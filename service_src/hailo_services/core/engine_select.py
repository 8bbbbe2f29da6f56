"""Choose the engine: ``auto`` means the NPU when the device node exists and HailoRT imports."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from .settings import EngineChoice


def hailo_available(device: Path = Path("/dev/hailo0")) -> tuple[bool, str]:
    if not device.exists():
        return False, f"{device} does not exist"
    if importlib.util.find_spec("hailo_platform") is None:
        return False, "the hailo_platform module (HailoRT) is not installed"
    return True, "ok"


def resolve_engine(choice: EngineChoice, device: Path = Path("/dev/hailo0")) -> str:
    if choice == "cpu":
        return "cpu"
    available, why = hailo_available(device)
    if choice == "hailo" and not available:
        raise RuntimeError(f"engine 'hailo' was requested but the NPU cannot be used: {why}")
    return "hailo" if available else "cpu"

"""The Hailo fixtures (exposed by tests/conftest.py to every test).

``hailo_double`` installs the HailoRT test double (hailo_platform_double.py) as ``hailo_platform``
for one test and resets ``core.hailo_device``'s process-wide VDevice state around it. Hardware tests
(marked ``hailo``) use the real package instead and skip without a device.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from hailo_services.core import hailo_device

HAILO_DEVICE = Path("/dev/hailo0")
_DOUBLE_PATH = Path(__file__).parent / "hailo" / "hailo_platform_double.py"


def _load_double() -> ModuleType:
    # Loaded by path so it works whatever the tests directory's package layout / import mode is.
    name = "hailo_platform_double"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, _DOUBLE_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _reset_device_state() -> None:
    with hailo_device._lock:
        hailo_device._vdevice = None
        hailo_device._users = 0
        hailo_device._group = None


@pytest.fixture
def hailo_double(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The double module, installed as ``hailo_platform`` / ``hailo_platform.genai``; its fresh
    recorder is ``hailo_double.STATE``."""
    double = _load_double()
    double.reset()
    monkeypatch.setitem(sys.modules, "hailo_platform", double)
    monkeypatch.setitem(sys.modules, "hailo_platform.genai", double.genai)
    _reset_device_state()
    yield double
    _reset_device_state()


def hailo_hardware_missing() -> str | None:
    """Why the hardware suite cannot run here, or None when it can."""
    if not HAILO_DEVICE.exists():
        return f"no Hailo device ({HAILO_DEVICE} is absent)"
    if importlib.util.find_spec("hailo_platform") is None:
        return "hailo_platform (HailoRT) is not installed"
    return None


@pytest.fixture
def hailo_hw() -> None:
    """Skips the test unless a Hailo device and HailoRT's Python package are present."""
    why = hailo_hardware_missing()
    if why:
        pytest.skip(why)


def skip_hailo_marked_without_hardware(items: list[pytest.Item]) -> None:
    # Items marked `hailo` that were selected (-m hailo) still skip cleanly on a machine without one.
    why = hailo_hardware_missing()
    if not why:
        return
    skip = pytest.mark.skip(reason=why)
    for item in items:
        if item.get_closest_marker("hailo") is not None:
            item.add_marker(skip)

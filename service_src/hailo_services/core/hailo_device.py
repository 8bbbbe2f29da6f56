"""The one way a service opens the Hailo-10H: a VDevice with a shared, non-UNIQUE group id.

HailoRT 5.x lets several processes use one Hailo-10H when each opens its VDevice with the same
``group_id`` (hailo-apps uses "SHARED"); with the default UNIQUE id a second process fails with
HAILO_DEVICE_IN_USE. Within a process all models share one VDevice, reference-counted here.
"""

from __future__ import annotations

import threading
from typing import Any

_lock = threading.Lock()
_vdevice: Any = None
_users = 0
_group: str | None = None


def acquire_vdevice(group_id: str = "SHARED") -> Any:
    """Open (or reuse) this process's VDevice. Pair each call with :func:`release_vdevice`."""
    global _vdevice, _users, _group
    with _lock:
        if _vdevice is None:
            from hailo_platform import HailoSchedulingAlgorithm, VDevice

            params = VDevice.create_params()
            params.group_id = group_id
            # Round-robin lets the models of several services take turns on the device.
            params.scheduling_algorithm = HailoSchedulingAlgorithm.ROUND_ROBIN
            _vdevice = VDevice(params)
            _group = group_id
        elif group_id != _group:
            raise RuntimeError(f"VDevice already open with group_id {_group!r}, not {group_id!r}")
        _users += 1
        return _vdevice


def release_vdevice() -> None:
    global _vdevice, _users, _group
    with _lock:
        if _users == 0:
            return
        _users -= 1
        if _users == 0 and _vdevice is not None:
            dev, _vdevice, _group = _vdevice, None, None
            dev.release()

"""systemd notification protocol (sd_notify): READY=1, WATCHDOG=1, STOPPING=1, STATUS=...

A no-op outside systemd (no ``NOTIFY_SOCKET``), so the same code runs in tests and under uvicorn.
"""

from __future__ import annotations

import os
import socket


def notify(*assignments: str) -> bool:
    path = os.environ.get("NOTIFY_SOCKET")
    if not path:
        return False
    if path.startswith("@"):  # abstract namespace socket
        path = "\0" + path[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        try:
            sock.connect(path)
            sock.sendall("\n".join(assignments).encode())
        except OSError:
            return False
    return True


def watchdog_interval_s() -> float | None:
    """Half the unit's WatchdogSec, as systemd recommends; None when no watchdog is set."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return max(int(usec) / 1_000_000 / 2, 0.5)
    except ValueError:
        return None

"""Ollama's keep_alive: a duration string ("5m", "1h30m", "300ms"), a number of seconds,
a negative value (keep forever) or 0 (unload as soon as the request is done)."""

from __future__ import annotations

import math
import re

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")

FOREVER = None


def parse_keep_alive(value: str | int | float | None) -> float | None:
    """Seconds to keep the model loaded; None = forever. Raises ValueError on nonsense."""
    if value is None:
        raise ValueError("keep_alive is missing")
    if isinstance(value, bool):
        raise ValueError("keep_alive must be a duration or a number of seconds")
    if isinstance(value, int | float):
        return _seconds(float(value), value)
    text = value.strip()
    try:
        number = float(text)
    except ValueError:
        pass
    else:
        return _seconds(number, value)
    negative = text.startswith("-")
    body = text[1:] if negative else text
    pos, total = 0, 0.0
    for m in _PART.finditer(body):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(body) or not body:
        raise ValueError(f"invalid keep_alive duration {value!r} (examples: '5m', '1h', '30s', 0, -1)")
    return None if negative else total


def _seconds(number: float, original: object) -> float | None:
    if math.isnan(number) or number == math.inf:
        raise ValueError(f"invalid keep_alive {original!r}: use a duration, seconds, or a negative number for forever")
    return None if number < 0 else number

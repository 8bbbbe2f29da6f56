"""Streamed responses: prime/with_first (in core/streaming.py, shared with the speech services) and
the per-token message template."""

from __future__ import annotations

import json
from collections.abc import Callable

from ..core.streaming import prime, with_first

__all__ = ["prime", "template", "with_first"]


def template(render: Callable[..., bytes], *names: str) -> list[bytes]:
    """Pre-render a per-token message once: ``render`` is called with a marker string for each of
    ``names`` (as keyword arguments) and the result is split around their JSON encodings, so a token's
    message is the pieces joined with each value's ``json.dumps`` in between. Per token this is one
    small dumps instead of building and encoding the whole object, on the CPU the engine shares."""
    markers = {name: f"\u0000{name}\u0000" for name in names}
    rest = render(**markers)
    pieces = []
    for name in names:
        before, found, rest = rest.partition(json.dumps(markers[name]).encode())
        assert found, f"{name} does not appear in the rendered message"
        pieces.append(before)
    return [*pieces, rest]

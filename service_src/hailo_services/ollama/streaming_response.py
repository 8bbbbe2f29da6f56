"""Start a stream only once its first item exists, so errors before it keep their HTTP status."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def prime(stream: AsyncIterator[T]) -> tuple[T | None, bool]:
    """(first item, exhausted). Exceptions raised before the first item propagate to the caller."""
    try:
        return await anext(stream), False
    except StopAsyncIteration:
        return None, True


async def with_first(
    first: Any, exhausted: bool, stream: AsyncIterator[Any], on_error: Callable[[Exception], Any]
) -> AsyncIterator[Any]:
    """Re-attach the primed item; an error after the stream started becomes a last in-band item."""
    async with contextlib.aclosing(stream):  # type: ignore[type-var]
        if exhausted:
            return
        yield first
        try:
            async for item in stream:
                yield item
        except Exception as exc:
            yield on_error(exc)


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

"""Start a stream only once its first item exists, so errors before it keep their HTTP status."""

from __future__ import annotations

import contextlib
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

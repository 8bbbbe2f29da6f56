"""Streamed text scanning shared by the stop strings, the think splitter and the tool-call parser:
tokens arrive in pieces, so a tag may be cut anywhere and its start has to be held back."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable

from .engine import Emit


def partial_suffix(text: str, tags: Iterable[str]) -> int:
    """Length of the longest end of ``text`` that is the beginning (not the whole) of one of ``tags``:
    how much to hold back until the next piece says whether a tag is coming."""
    keep = 0
    for tag in tags:
        for n in range(min(len(tag) - 1, len(text)), keep, -1):
            if text.endswith(tag[:n]):
                keep = n
                break
    return keep


class StreamFilter(ABC):
    """An ``emit`` wrapper over streamed text: pieces gather in ``_pending`` and ``_drain`` passes on
    what is known so far; ``flush()`` at the end of the reply drains the rest. Returns what ``emit``
    returned (True: the consumer has gone)."""

    def __init__(self, emit: Emit):
        self._emit = emit
        self._pending = ""

    def __call__(self, text: str) -> bool:
        self._pending += text
        return self._drain(final=False)

    def flush(self) -> bool:
        return self._drain(final=True)

    @abstractmethod
    def _drain(self, *, final: bool) -> bool: ...

"""Streamed text scanning shared by the stop strings, the think splitter and the tool-call parser:
tokens arrive in pieces, so a tag may be cut anywhere and its start has to be held back."""

from __future__ import annotations

from collections.abc import Iterable


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

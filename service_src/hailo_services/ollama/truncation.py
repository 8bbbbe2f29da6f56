"""A chat longer than the context, cut the way Ollama cuts it (server/prompt.go ``chatPrompt``).

Whole messages are dropped from the front until the rendered prompt (the chat template with its
tools) fits the context; system messages and the last message are always kept. When even that does
not fit, it is sent anyway and the engine says the prompt is too long. No message is cut in the
middle. Both engines use it with their own token count.
"""

from __future__ import annotations

from collections.abc import Callable

from .engine import Message


def kept_from(messages: list[Message], start: int) -> list[Message]:
    """The chat without the non-system messages before ``start``."""
    return [m for m in messages[:start] if m.get("role") == "system"] + messages[start:]


def fit_messages(messages: list[Message], count_tokens: Callable[[list[Message]], int], limit: int) -> list[Message]:
    """The longest tail of ``messages`` (plus every earlier system message) whose prompt is at most
    ``limit`` tokens; at least the system messages and the last message.

    Ollama tries dropping 0, 1, 2... messages in turn; the count only falls as more are dropped, so a
    binary search finds the same first fit with log2(n) renders instead of n (36 tools render to
    ~25 KB, and every try renders and tokenizes the whole prompt).
    """
    last = len(messages) - 1
    if last <= 0 or (len(messages) <= limit and count_tokens(messages) <= limit):
        return messages
    # Every message renders to at least one token, so a start leaving more than `limit` messages cannot
    # fit: the search begins past those (10 000 tiny messages would otherwise render 10 000 at a time).
    lo, hi = max(1, len(messages) - limit), last  # the fewest dropped that may fit .. all but the last
    while lo < hi:
        mid = (lo + hi) // 2
        if count_tokens(kept_from(messages, mid)) <= limit:
            hi = mid
        else:
            lo = mid + 1
    return kept_from(messages, lo)

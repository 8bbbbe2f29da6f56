"""Reasoning models (DeepSeek-R1-Distill): ``think`` in requests, the model's reasoning kept apart
from its answer.

A reasoning model writes ``<think> … </think>`` before its answer (its chat template often opens
the tag itself). Both engines stream plain text, so one splitter here turns it into
:class:`~.engine.Thinking` pieces and answer pieces, for llama.cpp (asked for the raw text, so that
it does not depend on llama.cpp recognising the template) and for HailoRT (which only returns text).
"""

from __future__ import annotations

from typing import Any

from ..core.errors import BadRequest
from ..core.models import ModelManager
from .engine import Emit, Thinking
from .textscan import StreamFilter, partial_suffix
from .tool_calls import capabilities

OPEN, CLOSE = "<think>", "</think>"
# Ollama's levels: a string asks for thinking at that effort (our models have one effort: on).
LEVELS = ("high", "medium", "low", "max")
# OpenAI's reasoning_effort values, as Ollama's /v1 maps them to think.
EFFORTS = {"none": False, "minimal": True, "low": True, "medium": True, "high": True, "xhigh": True}


def resolve_think(manager: ModelManager, model: str, think: Any) -> bool | None:
    """The request's ``think`` for this model, as Ollama decides it.

    None: the model does not think (and was not asked to). A thinking model thinks unless told
    ``think: false``; asking a model that cannot think is a 400 in Ollama's words.
    """
    if think is not None and not isinstance(think, bool) and think not in LEVELS:
        raise BadRequest(f'invalid think value: {think!r} (must be "high", "medium", "low", "max", true, or false)')
    can = "thinking" in capabilities(manager.spec(model), manager.engine_kind)
    if not can:
        if think:
            raise BadRequest(f'"{model}" does not support thinking')
        return None
    return True if think is None else bool(think)


def think_from_effort(effort: Any) -> bool | None:
    """OpenAI's ``reasoning_effort`` (or ``reasoning.effort``) as a think value."""
    if effort is None:
        return None
    if effort not in EFFORTS:
        raise BadRequest(f"invalid reasoning_effort {effort!r}: use one of {', '.join(EFFORTS)}")
    return EFFORTS[effort]


class ThinkSplitter(StreamFilter):
    """Routes streamed text: reasoning (up to ``</think>``) as Thinking pieces, then the answer.

    With ``opened`` the text starts as reasoning: the templates of reasoning models open ``<think>``
    in the prompt. Without it (the prompt closed the block: think false) it starts as the answer.
    Either way a ``<think>`` the model writes first opens it. Tags split across pieces are held back
    until they are complete. With ``keep_thinking`` False (``think: false`` on a model that thinks
    anyway, like a HEF whose template we cannot change) the reasoning is dropped.
    """

    def __init__(self, emit: Emit, *, keep_thinking: bool = True, opened: bool = True):
        super().__init__(emit)
        self._keep = keep_thinking
        self._thinking = opened
        self._started = False  # a leading <think> (after whitespace) is still possible
        self._begun = {True: False, False: False}  # has the reasoning / the answer written more than spaces

    def _drain(self, *, final: bool) -> bool:
        while self._pending:
            if not self._started:
                head = self._pending.lstrip()
                if OPEN.startswith(head) and not final:
                    return False  # maybe the opening tag, not complete yet
                if head.startswith(OPEN):
                    self._pending = head[len(OPEN) :]
                    self._thinking = True
                self._started = True
                continue
            if not self._thinking:
                text, self._pending = self._pending, ""
                return self._out(text, thinking=False)
            at = self._pending.find(CLOSE)
            if at >= 0:
                text, self._pending = self._pending[:at], self._pending[at + len(CLOSE) :].lstrip()
                self._thinking = False
                if self._out(text, thinking=True):
                    return True
                continue
            # Hold back a tail that may be the start of </think>.
            cut = len(self._pending) - (0 if final else partial_suffix(self._pending, (CLOSE,)))
            text, self._pending = self._pending[:cut], self._pending[cut:]
            return self._out(text, thinking=True) if text else False
        return False

    def _out(self, text: str, *, thinking: bool) -> bool:
        if not self._begun[thinking]:  # both start after the tag's newlines, as Ollama trims them
            text = text.lstrip()
            self._begun[thinking] = bool(text)
        if not text:
            return False
        if thinking:
            return self._emit(Thinking(text)) if self._keep else False
        return self._emit(text)

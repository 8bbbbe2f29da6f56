"""The model's tool calls, parsed from its streamed text (the Hailo engine: HailoRT returns text only;
on the CPU engine llama.cpp parses them itself).

Two formats, the ones the catalog's tool models were trained on:

- Hermes / Qwen2.5 (and SmolLM2): ``<tool_call>\\n{"name": ..., "arguments": {...}}\\n</tool_call>``,
  one block per call, text around them being the answer.
- Llama 3.x: the whole reply is ``{"name": ..., "parameters": {...}}`` (after an optional
  ``<|python_tag|>``).

Text that may start a call is held back until it is known; what does not parse as a call of one of
the request's tools is passed on as text, never lost.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from .engine import Emit, ToolCall
from .textscan import StreamFilter, partial_suffix

log = logging.getLogger(__name__)

OPEN, CLOSE = "<tool_call>", "</tool_call>"
PYTHON_TAG = "<|python_tag|>"


class ToolCallParser(StreamFilter):
    """An ``emit`` wrapper: text goes on, calls are collected in :attr:`calls`."""

    def __init__(self, emit: Emit, tool_names: set[str]):
        super().__init__(emit)
        self._names = tool_names
        self.calls: list[ToolCall] = []
        self._in_call = False
        self._whole_reply: bool | None = None  # None until the reply's first characters are seen

    def _drain(self, *, final: bool) -> bool:
        if self._whole_reply is None:
            head = self._pending.lstrip()
            if not head or (PYTHON_TAG.startswith(head) and head != PYTHON_TAG):
                if not final:
                    return False  # only spaces, or maybe the python tag: wait for more
                text, self._pending = self._pending, ""
                return self._out(text)
            # Llama 3's format: a reply that starts as a JSON object is held to the end.
            self._whole_reply = head.startswith(("{", PYTHON_TAG))
        if self._whole_reply:
            if not final:
                return False
            text, self._pending = self._pending, ""
            call = self._parse(text.strip().removeprefix(PYTHON_TAG), keys=("parameters", "arguments"))
            if call is not None:
                self.calls.append(call)
                return False
            return self._out(text)
        while self._pending:
            tag = CLOSE if self._in_call else OPEN
            at = self._pending.find(tag)
            if at < 0:
                if self._in_call:
                    if final:  # an unclosed call: the model ran out of tokens mid-call
                        text, self._pending = OPEN + self._pending, ""
                        return self._out(text)
                    return False
                cut = len(self._pending) - (0 if final else partial_suffix(self._pending, (OPEN,)))
                text, self._pending = self._pending[:cut], self._pending[cut:]
                return self._out(text)
            text, self._pending = self._pending[:at], self._pending[at + len(tag) :]
            if self._in_call:
                call = self._parse(text.strip(), keys=("arguments", "parameters"))
                if call is not None:
                    self.calls.append(call)
                elif self._out(OPEN + text + CLOSE):
                    return True
                self._in_call = False
            else:
                if self._out(text):
                    return True
                self._in_call = True
        return False

    def _parse(self, text: str, *, keys: tuple[str, ...]) -> ToolCall | None:
        try:
            obj: Any = json.loads(text)
        except json.JSONDecodeError:
            log.info("tool call is not JSON: %.200s", text)
            return None
        if not isinstance(obj, dict) or obj.get("name") not in self._names:
            return None
        args = next((obj[k] for k in keys if k in obj), {})
        arguments = args if isinstance(args, str) else json.dumps(args)
        return ToolCall(id=uuid.uuid4().hex[:8], name=obj["name"], arguments=arguments)

    def _out(self, text: str) -> bool:
        return self._emit(text) if text else False

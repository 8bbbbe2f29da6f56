"""Tools in both APIs' shapes: what a model can do, history messages with tool calls in, the model's
calls out (Ollama: ``function.arguments`` an object and ``function.index``; OpenAI: a JSON string,
``id`` and ``type``).

The chat template renders the tools and the engine parses the model's calls (llama.cpp on the CPU);
this module only translates between the engine's ToolCall and the two wire formats.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from ..core.errors import BadRequest
from ..core.models import ModelManager
from .catalog import ModelSpec
from .engine import ENGINE_CAPABILITIES, Message, ToolCall
from .schemas import ToolDef

log = logging.getLogger(__name__)


def capabilities(spec: ModelSpec, engine_kind: str) -> list[str]:
    """What /api/show reports: the catalog's capabilities that this engine really provides."""
    engine = ENGINE_CAPABILITIES.get(engine_kind, frozenset({"completion"}))
    return [c for c in spec.capabilities if c in engine]


def check_tools(spec: ModelSpec, engine_kind: str, model: str) -> None:
    if "tools" not in capabilities(spec, engine_kind):
        # Ollama's words (and status) for a model whose template cannot render tools.
        raise BadRequest(f"{model} does not support tools")


def requested_tools(manager: ModelManager, model: str, tools: list[ToolDef] | None) -> list[dict[str, Any]] | None:
    """A request's tools as the engine takes them (plain dicts); a 400 when the model has none."""
    if not tools:
        return None
    check_tools(manager.spec(model), manager.engine_kind, model)
    return [t.model_dump(exclude_none=True) for t in tools]


def call_id(call: ToolCall, index: int) -> str:
    return "call_" + (call.id[:8].lower() if call.id else f"{index:08d}")


def arguments_object(call: ToolCall) -> dict[str, Any]:
    """The call's arguments as an object (Ollama's shape; its clients refuse anything else)."""
    try:
        value = json.loads(call.arguments or "{}")
    except json.JSONDecodeError:
        log.warning("tool call %s: arguments are not JSON: %.200s", call.name, call.arguments)
        return {}
    return value if isinstance(value, dict) else {"value": value}


def to_ollama(calls: list[ToolCall]) -> list[dict[str, Any]]:
    return [
        {"id": call_id(c, i), "function": {"index": i, "name": c.name, "arguments": arguments_object(c)}}
        for i, c in enumerate(calls)
    ]


def to_openai(calls: list[ToolCall], *, with_index: bool = False) -> list[dict[str, Any]]:
    out = []
    for i, c in enumerate(calls):
        call: dict[str, Any] = {"id": call_id(c, i), "type": "function"}
        if with_index:  # stream deltas number their calls
            call = {"index": i, **call}
        call["function"] = {"name": c.name, "arguments": json.dumps(arguments_object(c))}
        out.append(call)
    return out


def history_message(role: str, content: str, raw: dict[str, Any]) -> Message:
    """A chat message for the engine, keeping the tool parts of either API's message: an assistant's
    ``tool_calls`` (arguments as an object or a JSON string) and a tool result's ``tool_call_id``."""
    out: Message = {"role": role, "content": content}
    calls = raw.get("tool_calls")
    if role == "assistant" and isinstance(calls, list) and calls:
        rendered = []
        for i, call in enumerate(calls):
            fn = (call or {}).get("function") or {}
            if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
                raise BadRequest(f"tool_calls[{i}] needs function.name")
            args = fn.get("arguments", {})
            rendered.append(
                {
                    "id": str(call.get("id") or f"call_{i}"),
                    "type": "function",
                    "function": {"name": fn["name"], "arguments": args if isinstance(args, str) else json.dumps(args)},
                }
            )
        out["tool_calls"] = rendered
    if role == "tool":
        out["tool_call_id"] = str(raw.get("tool_call_id") or raw.get("tool_name") or "")
    return out

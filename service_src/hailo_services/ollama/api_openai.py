"""OpenAI's API: /v1/models, /v1/chat/completions and /v1/completions (SSE streaming ending in [DONE]);
/v1/embeddings is in api_embeddings.py."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from ..core.deps import ManagerDep
from ..core.errors import BadRequest, ServiceError
from ..core.models import ModelManager
from ..core.request_body import json_body_openapi, parse_json
from .chat_images import check_vision, decode_all, split_content
from .engine import Message, Thinking
from .generation import Summary, collect, generate, merge_sampling
from .schemas import (
    OpenAIChatRequest,
    OpenAICompletionRequest,
    OpenAISampling,
    ResponseFormat,
)
from .streaming_response import prime, template, with_first
from .thinking import resolve_think, think_from_effort
from .tool_calls import history_message, requested_tools, to_openai

router = APIRouter(prefix="/v1")


def _model_obj(name: str, created: int) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": created, "owned_by": "hailo-services"}


@router.get("/models")
async def list_models(request: Request, manager: ManagerDep) -> dict[str, Any]:
    data = [_model_obj(spec.name, int(path.stat().st_mtime)) for spec, path in manager.available()]
    return {"object": "list", "data": data}


@router.get("/models/{model_id:path}")
async def get_model(model_id: str, request: Request, manager: ManagerDep) -> dict[str, Any]:
    spec = manager.spec(model_id)
    path = manager.path_of(spec)
    if path is None:
        from ..core.errors import NotFound

        raise NotFound(f"The model '{model_id}' does not exist")
    return _model_obj(spec.name, int(path.stat().st_mtime))


def _format(fmt: ResponseFormat | None) -> dict[str, Any]:
    if fmt is None or fmt.type == "text":
        return {}
    if fmt.type == "json_object":
        return {"json_mode": True}
    schema = (fmt.json_schema or {}).get("schema")
    if not isinstance(schema, dict):
        raise BadRequest("response_format.json_schema.schema must be a JSON schema object")
    return {"json_schema": schema}


def _usage(summary: Summary) -> dict[str, Any]:
    s = summary.stats
    return {
        "prompt_tokens": s.prompt_tokens,
        "completion_tokens": s.completion_tokens,
        "total_tokens": s.prompt_tokens + s.completion_tokens,
    }


def _finish(summary: Summary) -> str:
    reason = summary.stats.finish_reason
    return reason if reason in ("length", "tool_calls") else "stop"


def _sse(obj: Any) -> bytes:
    return f"data: {json.dumps(obj)}\n\n".encode()


def _error_event(exc: Exception) -> dict[str, Any]:
    if isinstance(exc, ServiceError):
        return {"error": {"message": exc.message, "type": exc.type, "param": None, "code": exc.code}}
    return {"error": {"message": str(exc), "type": "server_error", "param": None, "code": None}}


async def _respond(
    request: Request,
    manager: ModelManager,
    req: OpenAISampling,
    *,
    sampling_args: dict[str, Any],
    chat_messages: list[Message] | None,
    prompt: str | None,
) -> Response:
    model, stream = req.model, req.stream
    include_usage = bool(req.stream_options and req.stream_options.include_usage)
    spec = manager.spec(model)
    sampling = merge_sampling(spec, **sampling_args)
    chat = chat_messages is not None
    pieces = generate(
        manager,
        request.app.state.metrics,
        model=spec.name,
        kind="chat" if chat else "complete",
        messages=chat_messages,
        prompt=prompt,
        sampling=sampling,
        deadline_s=manager.settings.request_timeout_s,
        disconnected=request.is_disconnected,
    )
    ident = ("chatcmpl-" if chat else "cmpl-") + uuid.uuid4().hex[:24]
    created = int(time.time())
    obj = "chat.completion" if chat else "text_completion"

    if not stream:
        got = await collect(pieces)
        text, summary = got.text, got.summary
        choice: dict[str, Any] = {"index": 0, "finish_reason": _finish(summary), "logprobs": None}
        if chat:
            calls = summary.stats.tool_calls
            choice["message"] = {"role": "assistant", "content": (text or None) if calls else text}
            if got.thinking:  # Ollama's /v1 name for it (the openai client keeps unknown fields)
                choice["message"]["reasoning"] = got.thinking
            if calls:  # OpenAI: content null when the reply is only calls
                choice["message"]["tool_calls"] = to_openai(calls)
        else:
            choice["text"] = text
        return JSONResponse(
            {
                "id": ident,
                "object": obj,
                "created": created,
                "model": model,
                "choices": [choice],
                "usage": _usage(summary),
                "system_fingerprint": f"hailo-{manager.engine_kind}",
            }
        )

    first, exhausted = await prime(pieces)
    chunk_obj = "chat.completion.chunk" if chat else "text_completion"

    def chunk(delta_text: str | None, finish: str | None, role: bool = False) -> dict[str, Any]:
        choice: dict[str, Any] = {"index": 0, "finish_reason": finish, "logprobs": None}
        if chat:
            delta: dict[str, Any] = {"role": "assistant"} if role else {}
            if delta_text is not None:
                delta["content"] = delta_text
            choice["delta"] = delta
        else:
            choice["text"] = delta_text or ""
        return {
            "id": ident,
            "object": chunk_obj,
            "created": created,
            "model": model,
            "choices": [choice],
            "system_fingerprint": f"hailo-{manager.engine_kind}",
        }

    token_head, token_tail = template(lambda text: _sse(chunk(text, None)), "text")

    async def body() -> AsyncIterator[bytes]:
        if chat:
            yield _sse(chunk("", None, role=True))
        async for item in with_first(first, exhausted, pieces, _error_event):
            if isinstance(item, Summary):
                if chat and item.stats.tool_calls:  # each call whole, in one delta (as Ollama's /v1 sends them)
                    calls = chunk(None, None)
                    calls["choices"][0]["delta"]["tool_calls"] = to_openai(item.stats.tool_calls, with_index=True)
                    yield _sse(calls)
                yield _sse(chunk(None, _finish(item)))
                if include_usage:
                    yield _sse(
                        {
                            "id": ident,
                            "object": chunk_obj,
                            "created": created,
                            "model": model,
                            "choices": [],
                            "usage": _usage(item),
                        }
                    )
            elif isinstance(item, dict):
                yield _sse(item)
            elif isinstance(item, Thinking):
                thought = chunk(None, None)
                thought["choices"][0]["delta"]["reasoning"] = item
                yield _sse(thought)
            else:
                yield token_head + json.dumps(item).encode() + token_tail
        yield b"data: [DONE]\n\n"

    return StreamingResponse(body(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


def _common_sampling(req: OpenAIChatRequest | OpenAICompletionRequest) -> dict[str, Any]:
    return {
        "temperature": req.temperature,
        "top_p": req.top_p,
        "seed": req.seed,
        "stop": req.stop,
        "frequency_penalty": req.frequency_penalty,
        "presence_penalty": req.presence_penalty,
    }


@router.post("/chat/completions", openapi_extra=json_body_openapi(OpenAIChatRequest))
async def chat_completions(request: Request, manager: ManagerDep) -> Response:
    req = await parse_json(request, OpenAIChatRequest)
    tools = requested_tools(manager, req.model, req.tools if req.tool_choice != "none" else None)
    contents = [split_content(m.content, f"messages[{i}].content") for i, m in enumerate(req.messages)]
    check_vision(manager, req.model, sum(len(images) for _, images in contents))
    messages: list[Message] = []
    for i, (m, (text, images)) in enumerate(zip(req.messages, contents, strict=True)):
        role = "system" if m.role == "developer" else m.role
        message = history_message(role, text, m.model_dump())
        if images:
            message["images"] = await decode_all(manager, images, f"messages[{i}].content")
        messages.append(message)
    args = _common_sampling(req) | _format(req.response_format)
    if tools:
        choice = req.tool_choice
        if isinstance(choice, dict):
            # A named function: only that tool, and a call is required (llama.cpp takes no names).
            name = (choice.get("function") or {}).get("name")
            tools = [t for t in tools if t["function"]["name"] == name]
            if not tools:
                raise BadRequest(f"tool_choice names {name!r}, which is not among the tools")
            choice = "required"
        args |= {"tools": tools, "tool_choice": choice, "parallel_tool_calls": req.parallel_tool_calls}
    args["max_tokens"] = req.max_completion_tokens or req.max_tokens
    effort = req.reasoning_effort or (req.reasoning or {}).get("effort")
    args["think"] = resolve_think(manager, req.model, think_from_effort(effort))
    return await _respond(request, manager, req, sampling_args=args, chat_messages=messages, prompt=None)


@router.post("/completions", openapi_extra=json_body_openapi(OpenAICompletionRequest))
async def completions(request: Request, manager: ManagerDep) -> Response:
    req = await parse_json(request, OpenAICompletionRequest)
    prompt = req.prompt
    if isinstance(prompt, list):
        if len(prompt) != 1 or not isinstance(prompt[0], str):
            raise BadRequest("prompt must be a string or a list of exactly one string")
        prompt = prompt[0]
    if req.echo or req.suffix:
        raise BadRequest("echo and suffix are not supported")
    args = _common_sampling(req)
    args["max_tokens"] = req.max_tokens
    return await _respond(request, manager, req, sampling_args=args, chat_messages=None, prompt=prompt)

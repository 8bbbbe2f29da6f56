"""Bad input, limits and backpressure, over real HTTP (httpx)."""

from __future__ import annotations

import asyncio
import json

import httpx
import ollama
import openai
import pytest

MODEL = "smollm2:135m"
LONG = {
    "model": MODEL,
    "messages": [{"role": "user", "content": "Write a very long story."}],
    "options": {"num_predict": 400, "temperature": 0.8},
}
# Greedy counting never reaches end-of-sequence early, so this holds the model for 2000 tokens.
BUSY = {"model": MODEL, "prompt": "1, 2, 3, 4, 5, 6,", "raw": True, "options": {"num_predict": 2000, "temperature": 0}}
SHORT = {"model": MODEL, "prompt": "hi", "stream": False, "options": {"num_predict": 2}}


def test_malformed_json_is_400_in_each_shape(server):
    r = httpx.post(f"{server.url}/api/chat", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]
    r = httpx.post(f"{server.url}/v1/chat/completions", content=b"[1,", headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json()["error"]["type"] == "invalid_request_error"


def test_schema_errors_name_the_field(server):
    r = httpx.post(f"{server.url}/api/chat", json={"messages": []})
    assert r.status_code == 400 and "model" in r.json()["error"]
    r = httpx.post(f"{server.url}/api/generate", json={"model": MODEL, "prompt": "x", "keep_alive": "soon"})
    assert r.status_code == 400 and "keep_alive" in r.json()["error"]
    r = httpx.post(f"{server.url}/api/chat", json={"model": MODEL, "messages": [{"role": "robot", "content": "x"}]})
    assert r.status_code == 400 and "role" in r.json()["error"]
    r = httpx.post(f"{server.url}/api/generate", json={"model": MODEL, "prompt": "x", "format": "yaml"})
    assert r.status_code == 400


def test_numbers_past_what_the_engine_takes_are_400_naming_the_field(server):
    """These reached llama.cpp and came back as 500s (an int overflow, a failed context allocation)."""
    for options, field in (
        ({"num_predict": 10**12}, "num_predict"),
        ({"top_k": 2**40}, "top_k"),
        ({"seed": 2**64}, "seed"),
        ({"repeat_penalty": -1.0}, "repeat_penalty"),
    ):
        r = httpx.post(f"{server.url}/api/generate", json={**SHORT, "options": {**SHORT["options"], **options}})
        assert r.status_code == 400 and field in r.json()["error"], (options, r.text)
    r = httpx.post(
        f"{server.url}/v1/chat/completions",
        json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2**40},
    )
    assert r.status_code == 400 and "max_tokens" in r.json()["error"]["message"]


def test_a_context_past_the_models_maximum_is_clamped_as_ollama_does(server):
    r = httpx.post(
        f"{server.url}/api/generate",
        json={**SHORT, "options": {**SHORT["options"], "num_ctx": 100_000_000}},
        timeout=120,
    )
    assert r.status_code == 200, r.text
    ps = httpx.get(f"{server.url}/api/ps").json()["models"]
    assert ps and ps[0]["context_length"] == 8192  # SmolLM2's trained context (and the default max_num_ctx)
    r = httpx.post(f"{server.url}/api/generate", json=SHORT, timeout=120)  # back to the configured num_ctx
    assert r.status_code == 200 and httpx.get(f"{server.url}/api/ps").json()["models"][0]["context_length"] == 2048


def test_one_message_longer_than_the_context_is_cut_as_ollamas_runner_cuts_it(server):
    """Nothing can be dropped (Ollama keeps the last message whole), so, as Ollama's runner does, the
    prompt's tokens are cut (its first few and the newest kept) and the model answers."""
    long = "The quick brown fox. " * 1000 + "What animal was quick?"  # ~5000 tokens
    body = {"model": MODEL, "messages": [{"role": "user", "content": long}], "max_tokens": 8, "temperature": 0}
    r = httpx.post(f"{server.url}/v1/chat/completions", timeout=120, json=body)
    assert r.status_code == 200, r.text
    assert "fox" in r.json()["choices"][0]["message"]["content"] and r.json()["usage"]["prompt_tokens"] <= 2048
    r = httpx.post(
        f"{server.url}/api/chat",
        timeout=120,
        json={"model": MODEL, "messages": body["messages"], "truncate": False, "stream": False},
    )
    assert r.status_code == 400 and "context" in r.json()["error"]


def test_open_webuis_builtin_tools_on_a_small_context_still_get_an_answer(server):
    """Open WebUI sends its 36 builtin tools (~25 KB) with every page chat: more than a 2048 context."""
    tools = [
        {
            "type": "function",
            "function": {
                "name": f"tool_{i}",
                "description": "Search the user's notes, memories, knowledge bases and the web. " * 8,
                "parameters": {
                    "type": "object",
                    "properties": {"query": {"type": "string", "description": "what to look for " * 5}},
                    "required": ["query"],
                },
            },
        }
        for i in range(36)
    ]
    assert len(json.dumps(tools)) > 24_000
    client = ollama.Client(host=server.url, timeout=120)
    r = client.chat(
        model=MODEL,
        messages=[{"role": "user", "content": "Hello! Who are you?"}],
        tools=tools,
        options={"num_predict": 8, "temperature": 0},
    )
    assert r.message.content or r.message.tool_calls
    assert r.prompt_eval_count <= 2048


LONG_CHAT = [
    {"role": "system", "content": "You are a terse assistant. Answer in one word."},
    *[
        {"role": "user" if i % 2 == 0 else "assistant", "content": f"Old message {i}: " + "blah " * 150}
        for i in range(30)  # ~5000 tokens in all, the context is 2048
    ],
    {"role": "user", "content": "Say yes."},
]


def test_a_chat_longer_than_the_context_drops_its_oldest_messages_as_ollama_does(server):
    client = ollama.Client(host=server.url, timeout=120)
    r = client.chat(model=MODEL, messages=LONG_CHAT, options={"num_predict": 4, "temperature": 0})
    assert r.message.content.strip() and r.done_reason in ("stop", "length")
    # What was evaluated is what fits: the system message, the newest messages that fit, the question.
    assert 1000 < r.prompt_eval_count <= 2048
    oai = openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0, timeout=120)
    resp = oai.chat.completions.create(model=MODEL, messages=LONG_CHAT, max_tokens=4, temperature=0)
    assert resp.choices[0].message.content and 1000 < resp.usage.prompt_tokens <= 2048
    r = httpx.post(
        f"{server.url}/api/chat",
        json={"model": MODEL, "messages": LONG_CHAT, "stream": False, "truncate": False, "options": {"num_predict": 2}},
        timeout=120,
    )
    assert r.status_code == 400 and "exceeds the available context size" in r.json()["error"]


@pytest.mark.parametrize("raw", [False, True])
def test_a_generate_prompt_longer_than_the_context_is_cut_as_ollamas_runner_cuts_it(server, raw):
    prompt = "Once upon a time, " + "the fox ran and the dog slept. " * 500 + "The end. Moral:"  # ~4000 tokens
    body = {"model": MODEL, "prompt": prompt, "raw": raw, "stream": False, "options": {"num_predict": 4}}
    r = httpx.post(f"{server.url}/api/generate", json=body, timeout=120)
    assert r.status_code == 200, r.text
    assert 1000 < r.json()["prompt_eval_count"] <= 2048 - 4 and r.json()["eval_count"] > 0
    r = httpx.post(f"{server.url}/api/generate", json=body | {"truncate": False}, timeout=120)
    assert r.status_code == 400 and "exceeds the available context size" in r.json()["error"]


def test_hostile_json_is_400(server):
    deep = b"[" * 100_000 + b"]" * 100_000
    for path in ("/api/generate", "/v1/chat/completions"):
        r = httpx.post(f"{server.url}{path}", content=deep, headers={"content-type": "application/json"})
        assert r.status_code == 400 and "nested too deeply" in r.text, (path, r.text)
    nan = b'{"model": "smollm2:135m", "prompt": "x", "options": {"temperature": NaN}}'
    r = httpx.post(f"{server.url}/api/generate", content=nan, headers={"content-type": "application/json"})
    assert r.status_code == 400 and "NaN" in r.json()["error"]


def test_unknown_route_and_method(server):
    r = httpx.get(f"{server.url}/api/nothing")
    assert r.status_code == 404 and "error" in r.json()
    r = httpx.get(f"{server.url}/v1/nothing")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert httpx.get(f"{server.url}/api/chat").status_code == 405


def test_metrics_after_requests(server):
    httpx.post(
        f"{server.url}/api/generate",
        json={"model": MODEL, "prompt": "hi", "stream": False, "options": {"num_predict": 3}},
        timeout=60,
    )
    text = httpx.get(f"{server.url}/metrics").text
    assert 'hailo_requests_total{code="200",endpoint="/api/generate",method="POST",service="hailo-ollama"}' in text
    assert "hailo_request_duration_seconds_bucket" in text
    assert 'hailo_tokens_total{kind="completion",model="smollm2:135m",service="hailo-ollama"}' in text
    assert "hailo_tokens_per_second" in text and "hailo_queue_depth" in text
    assert 'hailo_models_loaded{service="hailo-ollama"}' in text


def test_oversized_body_is_413(start_server):
    srv = start_server({"max_body_bytes": 2048})
    big = {"model": MODEL, "messages": [{"role": "user", "content": "x" * 5000}]}
    r = httpx.post(f"{srv.url}/api/chat", json=big)
    assert r.status_code == 413 and "limit" in r.json()["error"]
    r = httpx.post(f"{srv.url}/v1/chat/completions", json=big)
    assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large"

    def chunked():
        yield b'{"model": "smollm2:135m", "messages": [{"role": "user", "content": "'
        for _ in range(10):
            yield b"y" * 1000
        yield b'"}]}'

    r = httpx.post(f"{srv.url}/api/chat", content=chunked())
    assert r.status_code == 413
    # normal requests still work
    ok = ollama.Client(host=srv.url).chat(
        model=MODEL, messages=[{"role": "user", "content": "hi"}], options={"num_predict": 2}
    )
    assert ok.done


# The queue tests hold the model's one slot (num_parallel 1) with a long generation;
# test_ollama_parallel.py and tests/core/test_work_queue.py cover several slots.


def test_full_queue_is_503_with_retry_after(start_server):
    srv = start_server({"queue_max_waiting": 0, "num_parallel": 1})

    async def scenario():
        async with httpx.AsyncClient(base_url=srv.url, timeout=60) as c:
            async with c.stream("POST", "/api/generate", json=BUSY) as busy:
                assert busy.status_code == 200
                lines = busy.aiter_lines()  # keep a reference: a dropped iterator closes the stream
                first = await anext(lines)
                assert json.loads(first)["done"] is False
                r = await c.post("/api/generate", json=SHORT)
                assert r.status_code == 503
                assert int(r.headers["retry-after"]) >= 1
                assert "busy" in r.json()["error"]
                r = await c.post(
                    "/v1/chat/completions", json={"model": MODEL, "messages": LONG["messages"], "max_tokens": 2}
                )
                assert r.status_code == 503 and r.json()["error"]["code"] == "queue_full"
        # the busy stream was abandoned: the model is free again soon
        for _ in range(50):
            r = httpx.post(
                f"{srv.url}/api/generate",
                json={"model": MODEL, "prompt": "hi", "stream": False, "options": {"num_predict": 2}},
                timeout=60,
            )
            if r.status_code == 200:
                return
            await asyncio.sleep(0.2)
        raise AssertionError("model stayed busy after the client went away")

    asyncio.run(scenario())


def test_queue_timeout_is_504(start_server):
    srv = start_server({"queue_timeout_s": 0.5, "num_parallel": 1})

    async def scenario():
        async with httpx.AsyncClient(base_url=srv.url, timeout=60) as c:
            async with c.stream("POST", "/api/generate", json=BUSY) as busy:
                lines = busy.aiter_lines()  # keep a reference: a dropped iterator closes the stream
                await anext(lines)
                r = await c.post("/api/generate", json=SHORT)
                assert r.status_code == 504 and "timed out" in r.json()["error"]

    asyncio.run(scenario())


def test_generation_deadline_is_504(start_server):
    srv = start_server({"request_timeout_s": 0.3})
    r = httpx.post(f"{srv.url}/api/generate", json=BUSY | {"stream": False}, timeout=60)
    assert r.status_code == 504
    r = httpx.post(
        f"{srv.url}/v1/chat/completions",
        json={"model": MODEL, "messages": LONG["messages"], "max_tokens": 400},
        timeout=60,
    )
    assert r.status_code == 504 and r.json()["error"]["type"] == "timeout_error"
    # Streamed: the deadline ends the stream with an in-band error (the status line is already sent).
    # Long enough for the first token on a busy machine (0.3 s was not), far short of 2000 tokens.
    srv = start_server({"request_timeout_s": 3})
    with httpx.stream("POST", f"{srv.url}/api/generate", json=BUSY, timeout=60) as r:
        lines = [json.loads(line) for line in r.iter_lines() if line]
    assert r.status_code == 200 and lines[0]["done"] is False
    assert "longer than" in lines[-1]["error"]
    assert len(lines) < 1000  # stopped long before the 2000 tokens asked for
    body = {"model": MODEL, "prompt": BUSY["prompt"], "max_tokens": 2000, "temperature": 0, "stream": True}
    with httpx.stream("POST", f"{srv.url}/v1/completions", json=body, timeout=60) as r:
        events = [line for line in r.iter_lines() if line.startswith("data: ")]
    assert json.loads(events[-2].removeprefix("data: "))["error"]["code"] == "timeout"
    assert events[-1] == "data: [DONE]"


def test_client_disconnect_frees_the_model(start_server):
    srv = start_server({"queue_max_waiting": 4, "num_parallel": 1})

    async def scenario():
        async with httpx.AsyncClient(base_url=srv.url, timeout=60) as c:
            async with c.stream("POST", "/api/generate", json=BUSY) as busy:
                lines = busy.aiter_lines()  # keep a reference: a dropped iterator closes the stream
                await anext(lines)
                waiting = asyncio.create_task(c.post("/api/generate", json=SHORT))
                await asyncio.sleep(0.5)
                assert (
                    'hailo_queue_depth{model="smollm2:135m",service="hailo-ollama"} 1.0'
                    in (await c.get("/metrics")).text
                )
                waiting.cancel()  # the waiting client goes away
                await asyncio.gather(waiting, return_exceptions=True)
                for _ in range(20):
                    text = (await c.get("/metrics")).text
                    if 'hailo_queue_depth{model="smollm2:135m",service="hailo-ollama"} 0.0' in text:
                        break
                    await asyncio.sleep(0.1)
                else:
                    raise AssertionError("cancelled request still queued")
            # leaving the stream closes the connection: generation stops well before 400 tokens
            r = await c.post(
                "/api/generate", json={"model": MODEL, "prompt": "hi", "stream": False, "options": {"num_predict": 2}}
            )
            assert r.status_code == 200
            text = (await c.get("/metrics")).text
            assert 'hailo_tokens_total{kind="completion",model="smollm2:135m",service="hailo-ollama"}' in text

    asyncio.run(scenario())


def test_api_key(start_server):
    srv = start_server({"api_key": "s3cret"})
    assert httpx.get(f"{srv.url}/health").status_code == 200
    assert httpx.get(f"{srv.url}/health/ready").status_code == 200
    r = httpx.get(f"{srv.url}/api/tags")
    assert r.status_code == 401 and "API key" in r.json()["error"]
    r = httpx.get(f"{srv.url}/v1/models", headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"
    assert httpx.get(f"{srv.url}/api/tags", headers={"x-api-key": "s3cret"}).status_code == 200
    assert httpx.get(f"{srv.url}/metrics", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{srv.url}/v1", api_key="nope", max_retries=0).models.list()
    oa = openai.OpenAI(base_url=f"{srv.url}/v1", api_key="s3cret", max_retries=0)
    assert oa.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}], max_tokens=2).choices
    ol = ollama.Client(host=srv.url, headers={"Authorization": "Bearer s3cret"})
    assert ol.chat(model=MODEL, messages=[{"role": "user", "content": "hi"}], options={"num_predict": 2}).done


def test_missing_default_model_stays_up_but_not_ready(start_server):
    """A default model that is not downloaded: the API answers (so it can be pulled), readiness is 503."""
    srv = start_server({"model": "qwen2:1.5b"}, wait_ready=False)
    r = httpx.get(f"{srv.url}/health/ready")
    assert r.status_code == 503 and "pull" in r.json()["reason"]
    assert httpx.get(f"{srv.url}/health").json()["ready"] is False
    assert [m["name"] for m in httpx.get(f"{srv.url}/api/tags").json()["models"]] == [MODEL]
    r = httpx.post(f"{srv.url}/api/pull", json={"model": "nosuch:7b"})
    assert r.status_code == 404


def test_pull_disabled_is_403(start_server):
    srv = start_server({"allow_pull": False})
    r = httpx.post(f"{srv.url}/api/pull", json={"model": "qwen2:1.5b"})
    assert r.status_code == 403 and "allow_pull" in r.json()["error"]
    # a model that is already present still "pulls" fine, as with Ollama
    assert httpx.post(f"{srv.url}/api/pull", json={"model": MODEL, "stream": False}).json()["status"] == "success"

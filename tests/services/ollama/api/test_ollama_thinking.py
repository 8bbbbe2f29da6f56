"""think on a reasoning model: message.thinking apart from content (Ollama), reasoning (OpenAI /v1),
think: false answering directly, and the 400s Ollama gives.

No package ships DeepSeek-R1-Distill, so SmolLM2's weights stand in at the R1 catalog entry's file
name: the request then runs through R1's chat template (ours, which opens <think>), llama.cpp and the
think splitter, as the real model would. A 135M model rarely closes its thinking by itself, so the
tests that need an answer after the thinking use think: false, greedy decoding and a short
num_predict, and check where the text went, not what it says.

"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import ollama
import openai
import pytest

from conftest import MODEL
from hailo_services.core import model_store
from hailo_services.ollama.catalog import catalog
from harness import Service, start_service, stop_service

R1 = "deepseek_r1_distill_qwen:1.5b"
ASK = [{"role": "user", "content": "What is 2 + 3?"}]


@pytest.fixture(scope="module")
def r1_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    models = tmp_path_factory.mktemp("r1-models")
    smol = catalog().get(MODEL).cpu
    weights = model_store.package_path(smol.package, smol.file)
    (models / catalog().get(R1).cpu.file).symlink_to(weights)
    srv = start_service("hailo-ollama", tmp_path_factory.mktemp("r1"), {"models_dir": str(models)})
    yield srv
    stop_service(srv)


def test_show_lists_thinking(r1_server: Service) -> None:
    caps = ollama.Client(host=r1_server.url).show(R1).capabilities
    assert caps == ["completion", "thinking"]
    assert "thinking" not in ollama.Client(host=r1_server.url).show(MODEL).capabilities


def test_thinking_is_apart_from_content_and_on_by_default(r1_server: Service) -> None:
    client = ollama.Client(host=r1_server.url, timeout=120)
    r = client.chat(model=R1, messages=ASK, options={"num_predict": 24, "temperature": 0})
    # The template opened <think>: what the model wrote is thinking until it closes it.
    assert r.message.thinking and "<think>" not in r.message.thinking
    assert "<think>" not in r.message.content and "</think>" not in (r.message.content or "")
    assert r.eval_count == 24


def test_streamed_thinking_chunks(r1_server: Service) -> None:
    client = ollama.Client(host=r1_server.url, timeout=120)
    chunks = list(
        client.chat(model=R1, messages=ASK, think=True, stream=True, options={"num_predict": 16, "temperature": 0})
    )
    thoughts = [c.message.thinking for c in chunks if c.message.thinking]
    assert len(thoughts) > 3 and chunks[-1].done
    assert all(not c.message.content for c in chunks if c.message.thinking)


def test_think_false_answers_without_thinking(r1_server: Service) -> None:
    client = ollama.Client(host=r1_server.url, timeout=120)
    r = client.chat(model=R1, messages=ASK, think=False, options={"num_predict": 24, "temperature": 0})
    assert r.message.content and not r.message.thinking
    body = {
        "model": R1,
        "prompt": "What is 2 + 3?",
        "think": False,
        "stream": False,
        "options": {"num_predict": 8, "temperature": 0},
    }
    g = httpx.post(f"{r1_server.url}/api/generate", json=body, timeout=120).json()
    assert g["response"] and "thinking" not in g


def test_generate_reports_thinking(r1_server: Service) -> None:
    body = {"model": R1, "prompt": "What is 2 + 3?", "stream": False, "options": {"num_predict": 8, "temperature": 0}}
    g = httpx.post(f"{r1_server.url}/api/generate", json=body, timeout=120).json()
    assert g["thinking"] and g["response"] == ""


def test_openai_reasoning_field_streamed_and_not(r1_server: Service) -> None:
    client = openai.OpenAI(base_url=f"{r1_server.url}/v1", api_key="unused")
    r = client.chat.completions.create(model=R1, messages=ASK, max_tokens=16, temperature=0)
    assert r.choices[0].message.model_extra["reasoning"]
    stream = client.chat.completions.create(model=R1, messages=ASK, max_tokens=16, stream=True, temperature=0)
    deltas = [c.choices[0].delta for c in stream if c.choices]
    assert any((d.model_extra or {}).get("reasoning") for d in deltas)
    # reasoning_effort "none" is think: false, as Ollama's /v1 maps it.
    r = client.chat.completions.create(model=R1, messages=ASK, max_tokens=16, temperature=0, reasoning_effort="none")
    assert r.choices[0].message.content and "reasoning" not in (r.choices[0].message.model_extra or {})


def test_think_on_a_model_that_cannot_is_ollamas_400(r1_server: Service) -> None:
    with pytest.raises(ollama.ResponseError) as err:
        ollama.Client(host=r1_server.url).chat(model=MODEL, messages=ASK, think=True)
    assert err.value.status_code == 400 and err.value.error == f'"{MODEL}" does not support thinking'
    # think: false on it is accepted, as Ollama accepts it.
    r = httpx.post(
        f"{r1_server.url}/api/chat",
        json={"model": MODEL, "messages": ASK, "think": False, "stream": False, "options": {"num_predict": 2}},
        timeout=120,
    )
    assert r.status_code == 200 and "thinking" not in r.json()["message"]
    bad = httpx.post(f"{r1_server.url}/api/chat", json={"model": R1, "messages": ASK, "think": "very"}, timeout=30)
    assert bad.status_code == 400 and "think" in json.dumps(bad.json())


def test_earlier_answers_go_back_without_their_thinking(r1_server: Service) -> None:
    # An assistant turn with its thinking (as clients send history back) renders as its answer only.
    history = [
        *ASK,
        {"role": "assistant", "content": "<think>\n2 plus 3 is 5.\n</think>\n\n5"},
        {"role": "user", "content": "And 2 + 4?"},
    ]
    r = httpx.post(
        f"{r1_server.url}/api/chat",
        json={"model": R1, "messages": history, "stream": False, "think": False, "options": {"num_predict": 1}},
        timeout=120,
    ).json()
    plain = [*ASK, {"role": "assistant", "content": "5"}, {"role": "user", "content": "And 2 + 4?"}]
    r2 = httpx.post(
        f"{r1_server.url}/api/chat",
        json={"model": R1, "messages": plain, "stream": False, "think": False, "options": {"num_predict": 1}},
        timeout=120,
    ).json()
    assert r["prompt_eval_count"] == r2["prompt_eval_count"]


def test_langchain_reasoning(r1_server: Service) -> None:
    from langchain_ollama import ChatOllama

    llm = ChatOllama(model=R1, base_url=r1_server.url, reasoning=True, num_predict=12, temperature=0)
    msg = llm.invoke("What is 2 + 3?")
    assert msg.additional_kwargs.get("reasoning_content")
    plain = ChatOllama(model=R1, base_url=r1_server.url, reasoning=False, num_predict=12, temperature=0)
    msg = plain.invoke("What is 2 + 3?")
    assert msg.content and "reasoning_content" not in msg.additional_kwargs

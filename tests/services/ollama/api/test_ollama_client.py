"""The official `ollama` Python client against the real server."""

from __future__ import annotations

import time

import httpx
import ollama
import pytest

MODEL = "smollm2:135m"


@pytest.fixture
def client(server) -> ollama.Client:
    return ollama.Client(host=server.url, timeout=120)


def test_streaming_chat(client):
    parts = list(
        client.chat(
            model=MODEL,
            messages=[{"role": "user", "content": "What is the capital of France?"}],
            stream=True,
            options={"temperature": 0, "num_predict": 40},
        )
    )
    assert len(parts) > 2
    assert all(not p.done for p in parts[:-1])
    final = parts[-1]
    assert final.done and final.done_reason in ("stop", "length")
    assert final.eval_count >= len(parts) - 2 > 0
    assert final.prompt_eval_count > 0 and final.total_duration > final.eval_duration > 0
    text = "".join(p.message.content for p in parts)
    assert len(text.strip()) > 5


def test_chat_non_streaming_with_system_and_history(client):
    resp = client.chat(
        model=MODEL,
        messages=[
            {"role": "system", "content": "You are a terse assistant."},
            {"role": "user", "content": "Name a colour."},
            {"role": "assistant", "content": "Blue."},
            {"role": "user", "content": "What is 2 plus 2? Answer with a number."},
        ],
        stream=False,
        options={"temperature": 0, "num_predict": 20, "seed": 1},
    )
    assert resp.done and resp.message.role == "assistant"
    assert resp.message.content.strip()
    assert resp.eval_count <= 20


def test_num_predict_limits_and_reports_length(client):
    resp = client.generate(model=MODEL, prompt="Write a long story about a dragon.", options={"num_predict": 5})
    assert resp.done_reason == "length"
    assert resp.eval_count == 5


def test_generate_streaming_and_seed_determinism(client):
    opts = {"temperature": 0.9, "seed": 42, "num_predict": 25}
    a = "".join(c.response for c in client.generate(model=MODEL, prompt="Tell me a fact.", stream=True, options=opts))
    b = client.generate(model=MODEL, prompt="Tell me a fact.", options=opts).response
    assert a and a == b


def test_generate_raw_and_stop(client):
    resp = client.generate(
        model=MODEL, prompt="1, 2, 3, 4,", raw=True, options={"temperature": 0, "num_predict": 30, "stop": [" 7"]}
    )
    assert "5" in resp.response
    assert " 7" not in resp.response


def test_format_json_and_schema(client):
    import json

    resp = client.chat(
        model=MODEL,
        format="json",
        options={"temperature": 0, "num_predict": 8},
        messages=[{"role": "user", "content": "Give me a JSON object with a key name."}],
    )
    assert resp.message.content.lstrip().startswith("{")
    schema = {
        "type": "object",
        "properties": {"age": {"type": "integer", "minimum": 0, "maximum": 99}},
        "required": ["age"],
        "additionalProperties": False,
    }
    resp = client.generate(
        model=MODEL,
        format=schema,
        prompt="How old is the cat? Reply in JSON.",
        options={"temperature": 0, "num_predict": 40},
    )
    assert resp.done_reason == "stop"
    assert 0 <= json.loads(resp.response)["age"] <= 99


def test_list_show_version(client, server):
    models = client.list().models
    assert [m.model for m in models] == [MODEL]
    assert models[0].size > 10_000_000 and models[0].details.format == "gguf"
    show = client.show(MODEL)
    assert show.details.family == "llama"
    assert show.modelinfo["llama.context_length"] == 2048
    assert httpx.get(f"{server.url}/api/version").json()["version"]
    root = httpx.get(server.url)
    assert root.status_code == 200 and root.text == "Ollama is running"
    assert httpx.head(server.url).status_code == 200


def test_keep_alive_unload_and_load(client):
    client.chat(model=MODEL, messages=[{"role": "user", "content": "hi"}], options={"num_predict": 2})
    assert [m.model for m in client.ps().models] == [MODEL]
    unloaded = client.generate(model=MODEL, prompt="", keep_alive=0)
    assert unloaded.done_reason == "unload"
    assert client.ps().models == []
    loaded = client.chat(model=MODEL, messages=[], keep_alive="10m")
    assert loaded.done_reason == "load"
    ps = client.ps().models
    assert [m.model for m in ps] == [MODEL]
    assert ps[0].expires_at is not None


def test_keep_alive_expires(client):
    client.generate(model=MODEL, prompt="hi", options={"num_predict": 1}, keep_alive="1s")
    deadline = time.monotonic() + 10
    while client.ps().models and time.monotonic() < deadline:
        time.sleep(0.2)
    assert client.ps().models == []
    # ...and it loads again on demand
    assert client.generate(model=MODEL, prompt="hi", options={"num_predict": 1}).done
    client.generate(model=MODEL, prompt="", keep_alive=-1)
    assert client.ps().models[0].expires_at.year > 2200


def test_unknown_model_is_404(client):
    with pytest.raises(ollama.ResponseError) as err:
        client.chat(model="nosuch:1b", messages=[{"role": "user", "content": "hi"}])
    assert err.value.status_code == 404
    assert "not found" in err.value.error
    with pytest.raises(ollama.ResponseError) as err:
        client.show("nosuch:1b")
    assert err.value.status_code == 404


def test_known_but_not_downloaded_model_is_404_with_hint(client):
    with pytest.raises(ollama.ResponseError) as err:
        client.chat(model="qwen2:1.5b", messages=[{"role": "user", "content": "hi"}])
    assert err.value.status_code == 404
    assert "pull" in err.value.error


def test_pull_of_package_model_succeeds(client):
    events = list(client.pull(MODEL, stream=True))
    assert events[-1].status == "success"
    assert client.pull(MODEL).status == "success"


def test_delete_package_model_refused(client):
    with pytest.raises(ollama.ResponseError) as err:
        client.delete(MODEL)
    assert err.value.status_code == 400
    with pytest.raises(ollama.ResponseError) as err:
        client.delete("qwen2:1.5b")
    assert err.value.status_code == 404


def test_images_are_refused_and_malformed_tools_too(client):
    with pytest.raises(ollama.ResponseError) as err:
        client.chat(model=MODEL, messages=[{"role": "user", "content": "hi", "images": ["aGVsbG8="]}])
    # Ollama's words, which clients match on, and where to go instead.
    assert err.value.status_code == 400 and "missing data required for image input" in err.value.error
    assert "hailo-vision" in err.value.error
    for tool in ({}, {"type": "function", "function": {"description": "no name"}}, {"type": "retrieval"}):
        r = httpx.post(
            f"{client._client.base_url}/api/chat",
            json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "tools": [tool], "stream": False},
        )
        assert r.status_code == 400 and "tools.0" in r.json()["error"], (tool, r.text)


def test_delete_downloaded_model(client, server):
    """A file in the store under a catalog name is listed, and DELETE removes it."""
    models = server.log.parent / "models"
    models.mkdir(exist_ok=True)
    fake = models / "qwen2-1_5b-instruct-q4_k_m.gguf"
    fake.write_bytes(b"not really a model")
    assert "qwen2:1.5b" in [m.model for m in client.list().models]
    assert client.delete("qwen2:1.5b").status == "success"
    assert not fake.exists()
    assert "qwen2:1.5b" not in [m.model for m in client.list().models]


def test_loading_a_broken_model_file_is_a_clear_error(client, server):
    models = server.log.parent / "models"
    models.mkdir(exist_ok=True)
    broken = models / "qwen2-1_5b-instruct-q4_k_m.gguf"
    broken.write_bytes(b"GGUF but truncated")
    try:
        with pytest.raises(ollama.ResponseError) as err:
            client.chat(model="qwen2:1.5b", messages=[{"role": "user", "content": "hi"}])
        assert err.value.status_code == 500
        assert "could not load" in err.value.error
        # the default model still answers
        assert client.generate(model=MODEL, prompt="hi", options={"num_predict": 1}).done
    finally:
        broken.unlink()

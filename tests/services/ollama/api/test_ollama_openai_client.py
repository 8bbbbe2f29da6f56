"""The official `openai` Python client against the real server."""

from __future__ import annotations

import json

import openai
import pytest

MODEL = "smollm2:135m"


@pytest.fixture
def client(server) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0, timeout=120)


def test_models(client):
    ids = [m.id for m in client.models.list()]
    assert ids == [MODEL]
    assert client.models.retrieve(MODEL).id == MODEL
    with pytest.raises(openai.NotFoundError) as err:
        client.models.retrieve("nosuch:1b")
    assert err.value.body["code"] == "model_not_found"


def test_chat_completion(client):
    resp = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Say hello."}], max_tokens=12, temperature=0, seed=3
    )
    choice = resp.choices[0]
    assert choice.message.role == "assistant" and choice.message.content
    assert choice.finish_reason in ("stop", "length")
    assert resp.usage.completion_tokens <= 12
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens
    assert resp.object == "chat.completion" and resp.model == MODEL


def test_chat_streaming_with_usage(client):
    stream = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Count from one to ten."}],
        max_completion_tokens=20,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip()
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["length"] or finishes == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0


def test_max_tokens_gives_length(client):
    resp = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Write a long poem about the sea."}], max_tokens=4
    )
    assert resp.choices[0].finish_reason == "length"
    assert resp.usage.completion_tokens == 4


def test_content_parts_and_developer_role(client):
    resp = client.chat.completions.create(
        model=MODEL,
        max_tokens=8,
        messages=[
            {"role": "developer", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "Hi "}, {"type": "text", "text": "there"}]},
        ],
    )
    assert resp.choices[0].message.content


def test_json_schema_response_format(client):
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string", "maxLength": 12}},
        "required": ["name"],
        "additionalProperties": False,
    }
    resp = client.chat.completions.create(
        model=MODEL,
        max_tokens=60,
        temperature=0,
        response_format={"type": "json_schema", "json_schema": {"name": "cat", "schema": schema}},
        messages=[{"role": "user", "content": "Name a cat. Reply in JSON."}],
    )
    assert resp.choices[0].finish_reason == "stop"
    assert set(json.loads(resp.choices[0].message.content)) == {"name"}


def test_json_object_response_format(client):
    resp = client.chat.completions.create(
        model=MODEL,
        max_tokens=10,
        temperature=0,
        response_format={"type": "json_object"},
        messages=[{"role": "user", "content": "Return a JSON object describing a cat."}],
    )
    assert resp.choices[0].message.content.lstrip().startswith("{")


def test_completions_and_stop(client):
    resp = client.completions.create(model=MODEL, prompt="1, 2, 3, 4,", max_tokens=20, temperature=0, stop=[" 8"])
    assert resp.choices[0].text and " 8" not in resp.choices[0].text
    assert resp.object == "text_completion"
    streamed = "".join(
        c.choices[0].text
        for c in client.completions.create(
            model=MODEL, prompt="1, 2, 3, 4,", max_tokens=20, temperature=0, stop=[" 8"], stream=True
        )
        if c.choices
    )
    assert streamed == resp.choices[0].text


def test_unknown_model_404(client):
    with pytest.raises(openai.NotFoundError) as err:
        client.chat.completions.create(model="gpt-9", messages=[{"role": "user", "content": "hi"}])
    assert err.value.status_code == 404
    assert err.value.body["type"] == "invalid_request_error"


def test_bad_requests_are_400(client):
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model=MODEL, messages=[], max_tokens=5)
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}], n=2)
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(
            model=MODEL,
            messages=[
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}
            ],
        )
    assert "hailo-vision" in err.value.message
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}], temperature=5)

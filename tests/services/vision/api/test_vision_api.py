"""hailo-vision over HTTP with the clients its users have (ollama, openai, httpx), on the CPU engine:
llama.cpp multimodal with SmolLM2-135M and a tiny random Qwen2-VL vision projector (provision.py).
The answers mean nothing, so the tests check the request path: the images reach the model (each
336x336 frame is 144 image tokens in prompt_eval_count / usage), streaming, history, and the errors."""

from __future__ import annotations

import base64
import importlib.util
import io
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import ollama
import openai
import pytest
from PIL import Image
from skimage import data

from harness import Service, start_service, stop_service

_spec = importlib.util.spec_from_file_location("vision_provision", Path(__file__).resolve().parents[1] / "provision.py")
provision = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(provision)
MODEL, place_model = provision.MODEL, provision.place_model

IMAGE_TOKENS = 144  # a 336x336 frame: 12 x 12 merged patches


def jpeg_b64(rgb) -> str:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=85)
    return base64.b64encode(buf.getvalue()).decode()


CAT = jpeg_b64(data.chelsea())
COFFEE = jpeg_b64(data.coffee())
GREEDY = {"temperature": 0, "num_predict": 4}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    work = tmp_path_factory.mktemp("vision")
    place_model(work / "models")
    srv = start_service("hailo-vision", work, {"num_ctx": 1024, "max_images": 4})
    yield srv
    stop_service(srv)


@pytest.fixture(scope="module")
def client(server: Service) -> ollama.Client:
    return ollama.Client(host=server.url, timeout=120)


@pytest.fixture(scope="module")
def oa(server: Service) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", timeout=120)


def test_show_says_vision_and_tags_list_the_model(client: ollama.Client) -> None:
    assert client.show(MODEL).capabilities == ["completion", "vision"]
    assert [m.model for m in client.list().models] == [MODEL]


def test_ollama_chat_with_an_image_puts_it_in_the_prompt(client: ollama.Client) -> None:
    text = client.chat(model=MODEL, messages=[{"role": "user", "content": "What is this?"}], options=GREEDY)
    seen = client.chat(
        model=MODEL, messages=[{"role": "user", "content": "What is this?", "images": [CAT]}], options=GREEDY
    )
    assert seen.prompt_eval_count >= text.prompt_eval_count + IMAGE_TOKENS
    assert seen.done and seen.eval_count > 0


def test_ollama_streams_ndjson_with_an_image(server: Service) -> None:
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "Describe it.", "images": [COFFEE]}],
        "options": GREEDY,
    }
    with httpx.stream("POST", f"{server.url}/api/chat", json=body, timeout=120) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
        lines = [json.loads(line) for line in r.iter_lines() if line]
    assert lines[-1]["done"] and lines[-1]["prompt_eval_count"] > IMAGE_TOKENS
    assert all("message" in line for line in lines)


def test_generate_with_images_and_a_text_only_follow_up(client: ollama.Client) -> None:
    g = client.generate(model=MODEL, prompt="What is in the picture?", images=[CAT], options=GREEDY)
    assert g.prompt_eval_count > IMAGE_TOKENS
    history = [
        {"role": "user", "content": "What is this?", "images": [CAT]},
        {"role": "assistant", "content": "A cat."},
        {"role": "user", "content": "What colour is it?"},
    ]
    r = client.chat(model=MODEL, messages=history, options=GREEDY)
    assert r.prompt_eval_count > IMAGE_TOKENS  # the earlier image stays in the conversation


def test_two_images_cost_two_frames(client: ollama.Client) -> None:
    one = client.chat(model=MODEL, messages=[{"role": "user", "content": "Compare.", "images": [CAT]}], options=GREEDY)
    two = client.chat(
        model=MODEL, messages=[{"role": "user", "content": "Compare.", "images": [CAT, COFFEE]}], options=GREEDY
    )
    assert two.prompt_eval_count >= one.prompt_eval_count + IMAGE_TOKENS


def test_openai_client_image_url_streamed_with_usage(oa: openai.OpenAI) -> None:
    content = [
        {"type": "text", "text": "What is in this image?"},
        {"type": "image_url", "image_url": {"url": f"data:image/jpeg;base64,{CAT}"}},
    ]
    stream = oa.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": content}],
        max_tokens=4,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens > IMAGE_TOKENS
    assert any(c.choices and c.choices[0].finish_reason for c in chunks)
    r = oa.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": content}], max_tokens=4, seed=1)
    assert r.usage.prompt_tokens > IMAGE_TOKENS and r.choices[0].message.role == "assistant"


def test_the_seeds_image_part_with_raw_base64(oa: openai.OpenAI) -> None:
    content = [{"type": "image", "image": CAT}, {"type": "text", "text": "Describe."}]
    r = oa.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": content}], max_tokens=4)
    assert r.usage.prompt_tokens > IMAGE_TOKENS


def test_analyze_answers_per_image(server: Service) -> None:
    r = httpx.post(
        f"{server.url}/v1/vision/analyze",
        json={"images": [CAT, f"data:image/jpeg;base64,{COFFEE}"], "prompt": "What is it?", "max_tokens": 4},
        timeout=120,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"] == MODEL and [x["index"] for x in body["results"]] == [0, 1]
    assert all(x["prompt_tokens"] > IMAGE_TOKENS for x in body["results"])
    assert body["total_inference_time_ms"] > 0


@pytest.mark.parametrize(
    ("images", "status", "words"),
    [
        (["not base64 at all!"], 400, "base64"),
        ([base64.b64encode(b"just some text, not an image").decode()], 400, "not a recognised image"),
        (["data:image/png;base64,"], 400, "0 bytes"),
        (["https://example.com/cat.jpg"], 403, "remote image URLs are disabled"),
        ([CAT] * 5, 413, "max_images (4)"),
    ],
)
def test_bad_images_are_4xx_in_ollamas_shape(server: Service, images: list[str], status: int, words: str) -> None:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi", "images": images}], "stream": False}
    r = httpx.post(f"{server.url}/api/chat", json=body, timeout=60)
    assert r.status_code == status, r.text
    assert words.lower() in r.json()["error"].lower()


def test_bad_images_are_4xx_in_openais_shape(oa: openai.OpenAI) -> None:
    bad = [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]
    with pytest.raises(openai.BadRequestError):
        oa.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": bad}], max_tokens=4)
    with pytest.raises(openai.BadRequestError, match="needs an image"):
        oa.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": [{"type": "image_url"}]}], max_tokens=4
        )
    with pytest.raises(openai.NotFoundError):
        oa.chat.completions.create(model="llava:7b", messages=[{"role": "user", "content": "hi"}], max_tokens=4)


def test_raw_prompts_with_images_are_400_and_there_are_no_embeddings(server: Service) -> None:
    r = httpx.post(
        f"{server.url}/api/generate",
        json={"model": MODEL, "prompt": "x", "raw": True, "images": [CAT], "stream": False},
        timeout=60,
    )
    assert r.status_code == 400 and "raw" in r.json()["error"]
    # A VLM only chats: no embedding routes here (hailo-clip embeds images and text).
    for path in ("/api/embed", "/api/embeddings", "/v1/embeddings"):
        assert httpx.post(f"{server.url}{path}", json={"model": MODEL, "input": "hi"}, timeout=60).status_code == 404


def test_not_ready_without_weights_names_the_files(tmp_path) -> None:
    srv = start_service("hailo-vision", tmp_path, wait_ready=False)
    try:
        r = httpx.get(f"{srv.url}/health/ready", timeout=10)
        assert r.status_code == 503
        reason = json.dumps(r.json())
        assert "Qwen2-VL-2B-Instruct-Q4_K_M.gguf" in reason and "hailo-services pull hailo-vision" in reason
    finally:
        stop_service(srv)

"""hailo-clip over real HTTP (``hailo-services run hailo-clip``), on the tiny encoders of provision.py,
whose weights make colour the meaning: a flat red picture ranks "a photo of a red square" first. The
``openai`` client and httpx as users call it; bad input gets a 4xx in OpenAI's error shape."""

from __future__ import annotations

import base64
import io
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import openai
import pytest
from PIL import Image

from harness import Service, start_service, stop_service

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import provision

RED, GREEN, BLUE = (220, 30, 30), (30, 200, 30), (30, 30, 220)
SQUARES = ["red square", "green square", "blue square"]


def png(colour, size=(160, 120)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="PNG")
    return buf.getvalue()


def data_uri(colour) -> str:
    return "data:image/png;base64," + base64.b64encode(png(colour)).decode()


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    workdir = tmp_path_factory.mktemp("clip")
    svc = start_service("hailo-clip", workdir, {**provision.provision(workdir), "max_images": 8})
    yield svc
    stop_service(svc)


@pytest.fixture(scope="module")
def client(clip: Service) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{clip.url}/v1", api_key="unused", max_retries=0)


def test_openai_client_gets_unit_embeddings_of_a_text(client: openai.OpenAI):
    # The client asks for base64 unless told otherwise and decodes it: both paths must give the same vector.
    default = client.embeddings.create(model="clip_vit_b_32", input="a photo of a red square")
    floats = client.embeddings.create(model="clip_vit_b_32", input="a photo of a red square", encoding_format="float")
    (a,), (b,) = default.data, floats.data
    assert len(a.embedding) == 512
    assert np.linalg.norm(a.embedding) == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(a.embedding, b.embedding, atol=1e-6)
    assert default.model == "clip_vit_b_32" and default.usage.prompt_tokens == 8


def test_openai_client_embeds_images_and_texts_in_one_space(client: openai.OpenAI):
    out = client.embeddings.create(
        model="clip", input=[data_uri(RED), "a photo of a red square", "a photo of a green square", data_uri(BLUE)]
    )
    v = np.array([d.embedding for d in sorted(out.data, key=lambda d: d.index)])
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    red_image, red_text, green_text, blue_image = v
    assert red_image @ red_text > red_image @ green_text  # an image and its caption rank above a wrong one
    assert red_image @ red_text > 0.9 and blue_image @ red_text < 0
    assert out.usage.prompt_tokens == 16  # texts only: 8 tokens each


def test_dimensions_cut_and_renormalise(client: openai.OpenAI):
    (d,) = client.embeddings.create(model="clip", input="a red cat", dimensions=64, encoding_format="float").data
    assert len(d.embedding) == 64 and np.linalg.norm(d.embedding) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"input": []}, 400, "non-empty"),
        ({"input": ""}, 400, "empty"),
        ({"input": [data_uri(RED)] * 50}, 400, "max_images"),
        ({"input": ["x"] * 300}, 400, "max_inputs"),
        ({"input": "data:image/png;base64,AAAA"}, 400, "not a recognised image"),
        ({"input": "data:application/pdf;base64," + base64.b64encode(b"%PDF-1.4 x").decode()}, 415, "pdf"),
        ({"input": [[320, 1125]]}, 400, "input"),
        ({"input": "a cat", "dimensions": 513}, 400, "512"),
        ({"input": "a cat", "model": "no-such-model"}, 404, "not found"),
    ],
)
def test_bad_embedding_requests_are_4xx_in_openais_shape(clip: Service, body, status, says):
    r = httpx.post(f"{clip.url}/v1/embeddings", json=body)
    assert r.status_code == status, r.text
    assert says in r.json()["error"]["message"]


def test_a_url_is_text_while_remote_images_are_off(clip: Service):
    r = httpx.post(f"{clip.url}/v1/embeddings", json={"input": "https://example.com/cat.jpg"})
    assert r.status_code == 200 and r.json()["usage"]["prompt_tokens"] > 2


def test_classify_multipart_ranks_the_right_label_first(clip: Service):
    r = httpx.post(
        f"{clip.url}/v1/classify",
        files={"image": ("red.png", png(RED), "image/png")},
        data={"labels": ", ".join(SQUARES), "top_k": "2"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    best, second = body["classifications"]
    assert best["label"] == "red square" and best["text"] == "a photo of a red square" and best["rank"] == 1
    assert best["score"] > 0.99 and best["score"] + second["score"] <= 1 + 1e-6  # softmax at logit scale 100
    assert body["model"] == "clip_vit_b_32" and body["image_size"] == {"width": 160, "height": 120}


def test_classify_json_with_prompts_and_threshold(clip: Service):
    prompts = [f"a photo of a {s}" for s in SQUARES]
    r = httpx.post(f"{clip.url}/v1/classify", json={"image": data_uri(BLUE), "prompts": prompts, "threshold": 0.5})
    assert r.status_code == 200, r.text
    (only,) = r.json()["classifications"]
    assert only["label"] == only["text"] == "a photo of a blue square"
    templated = httpx.post(
        f"{clip.url}/v1/classify",
        json={"image": data_uri(GREEN), "labels": ["red", "green"], "template": "a {} square"},
    ).json()["classifications"]
    assert templated[0]["label"] == "green" and templated[0]["text"] == "a green square"


def test_classify_without_labels_uses_the_default_labels(clip: Service):
    r = httpx.post(f"{clip.url}/v1/classify", content=png(RED), headers={"content-type": "image/png"})
    assert r.status_code == 200, r.text
    assert len(r.json()["classifications"]) == 5  # top_k's default, out of default_labels


def test_classify_annotated_png(clip: Service):
    r = httpx.post(
        f"{clip.url}/v1/classify?annotate=true",
        files={"image": ("red.png", png(RED, (300, 200)), "image/png")},
        data={"labels": "red square,blue square"},
    )
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(r.content)).size == (300, 200)


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({"labels": "cat", "template": "a photo"}, "template"),
        ({"labels": "cat", "prompts": "a cat"}, "not both"),
        ({"labels": ",".join(["x"] * 300)}, "max_labels"),
        ({"top_k": "0"}, "top_k"),
        ({"threshold": "2"}, "threshold"),
    ],
)
def test_bad_classify_requests_are_400(clip: Service, data, says):
    r = httpx.post(f"{clip.url}/v1/classify", files={"image": ("r.png", png(RED), "image/png")}, data=data)
    assert r.status_code == 400, r.text
    assert says in r.json()["error"]["message"]


def test_search_images_by_text_and_texts_by_image(clip: Service):
    images = [data_uri(RED), data_uri(GREEN), data_uri(BLUE)]
    r = httpx.post(f"{clip.url}/v1/search", json={"query": "a photo of a blue square", "images": images})
    assert r.status_code == 200, r.text
    body = r.json()
    scores = [x["score"] for x in body["results"]]
    assert body["results"][0]["index"] == 2 and scores == sorted(scores, reverse=True) and len(scores) == 3
    assert body["query"] == "text" and body["candidates"] == "images" and body["results"][0]["rank"] == 1
    texts = [f"a photo of a {s}" for s in SQUARES]
    r = httpx.post(f"{clip.url}/v1/search", json={"query_image": data_uri(GREEN), "texts": texts, "top_k": 1})
    (best,) = r.json()["results"]
    assert best["index"] == 1 and best["text"] == texts[1] and best["probability"] > 0.99


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"query": "x", "query_image": data_uri(RED), "images": [data_uri(RED)]}, "one query"),
        ({"query": "x"}, "candidates"),
        ({"query": "x", "images": []}, "empty"),
        ({"query": "x", "images": [data_uri(RED)] * 50}, "max_images"),
    ],
)
def test_bad_search_requests_are_400(clip: Service, body, says):
    r = httpx.post(f"{clip.url}/v1/search", json=body)
    assert r.status_code == 400, r.text
    assert says in r.json()["error"]["message"]


def test_the_seeds_embed_endpoints(clip: Service):
    img = httpx.post(f"{clip.url}/v1/embed/image", json={"image": base64.b64encode(png(RED)).decode()}).json()
    txt = httpx.post(f"{clip.url}/v1/embed/text", json={"text": "a photo of a red square"}).json()
    assert img["dimension"] == txt["dimension"] == 512 and img["model"] == txt["model"] == "clip_vit_b_32"
    assert np.dot(img["embedding"], txt["embedding"]) > 0.9
    many = httpx.post(f"{clip.url}/v1/embed/text", json={"text": ["a red cat", "a dog"]}).json()
    assert len(many["embeddings"]) == 2 and many["tokens"] == [5, 4]


def test_models_lists_the_catalog(clip: Service):
    (m,) = httpx.get(f"{clip.url}/v1/models").json()["data"]
    assert m["id"] == "clip_vit_b_32" and m["present"] and m["default"] and m["engine"] == "cpu"


def test_without_weights_the_service_is_not_ready_and_says_how_to_pull(tmp_path: Path):
    svc = start_service("hailo-clip", tmp_path, wait_ready=False)
    try:
        r = httpx.get(f"{svc.url}/health/ready")
        assert r.status_code == 503
        reason = r.json()["reason"]
        assert "clip-vit-b-32-vision-q8.onnx" in reason and "hailo-services pull hailo-clip clip_vit_b_32" in reason
        r = httpx.post(f"{svc.url}/v1/embeddings", json={"input": "a cat"})
        assert r.status_code == 503 and "missing" in r.json()["error"]["message"]
    finally:
        stop_service(svc)

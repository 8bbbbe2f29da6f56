"""Embeddings from the loaded model, through the clients that ask for them: the `ollama` client
(/api/embed, /api/embeddings), the official `openai` client (/v1/embeddings) and LangChain's
OllamaEmbeddings (what RAG pipelines and Open WebUI's "Ollama" embedding engine call)."""

from __future__ import annotations

import base64

import httpx
import numpy as np
import ollama
import openai
import pytest
from langchain_ollama import OllamaEmbeddings

MODEL = "smollm2:135m"
DIM = 576  # SmolLM2-135M's hidden size

SKY = "Why is the sky blue? Rayleigh scattering of sunlight by the air."
SKY_AGAIN = "The sky looks blue because air scatters blue sunlight more than red."
BREAD = "Knead the dough for ten minutes, then let it rise for an hour."


@pytest.fixture
def oclient(server) -> ollama.Client:
    return ollama.Client(host=server.url, timeout=120)


def cos(a, b) -> float:
    a, b = np.asarray(a), np.asarray(b)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_api_embed_gives_one_unit_vector_per_input_that_ranks_by_meaning(oclient):
    r = oclient.embed(model=MODEL, input=[SKY, SKY_AGAIN, BREAD])
    vectors = r.embeddings
    assert len(vectors) == 3 and all(len(v) == DIM for v in vectors)
    assert all(abs(np.linalg.norm(v) - 1) < 1e-4 for v in vectors)
    # Mean-pooled hidden states of a 135M chat model are weak embeddings, but this much they get right.
    assert cos(vectors[0], vectors[1]) > cos(vectors[0], vectors[2])
    assert r.prompt_eval_count > 20 and r.total_duration > 0
    single = oclient.embed(model=MODEL, input=SKY).embeddings
    assert len(single) == 1 and np.allclose(single[0], vectors[0], atol=1e-4)  # the same text, the same vector


def test_dimensions_cut_and_renormalise(oclient, server):
    full = oclient.embed(model=MODEL, input=SKY).embeddings[0]
    r = httpx.post(f"{server.url}/api/embed", json={"model": MODEL, "input": SKY, "dimensions": 64}, timeout=120)
    short = r.json()["embeddings"][0]
    assert len(short) == 64 and abs(np.linalg.norm(short) - 1) < 1e-6
    assert np.allclose(short, np.asarray(full[:64]) / np.linalg.norm(full[:64]), atol=1e-5)


def test_an_input_past_the_context_is_cut_unless_truncate_is_false(server):
    long = "word " * 3000  # about 3000 tokens; the server's context is 2048
    r = httpx.post(f"{server.url}/api/embed", json={"model": MODEL, "input": long}, timeout=120)
    assert r.status_code == 200 and r.json()["prompt_eval_count"] == 2048
    r = httpx.post(f"{server.url}/api/embed", json={"model": MODEL, "input": long, "truncate": False}, timeout=120)
    assert r.status_code == 400 and "exceeds the context length" in r.json()["error"]


def test_empty_and_wrong_inputs(server):
    r = httpx.post(f"{server.url}/api/embed", json={"model": MODEL, "input": ""})
    assert r.status_code == 200 and r.json() == {"model": MODEL, "embeddings": []}  # as Ollama answers it
    r = httpx.post(f"{server.url}/api/embed", json={"model": MODEL, "input": ["a", ""]})
    assert r.status_code == 400 and "input[1]" in r.json()["error"]
    r = httpx.post(f"{server.url}/api/embed", json={"model": MODEL, "input": [1, 2]})
    assert r.status_code == 400 and "input" in r.json()["error"]
    r = httpx.post(f"{server.url}/api/embed", json={"model": "nosuch:1b", "input": "x"})
    assert r.status_code == 404


def test_legacy_api_embeddings_is_not_normalised(oclient):
    legacy = oclient.embeddings(model=MODEL, prompt=SKY).embedding
    unit = oclient.embed(model=MODEL, input=SKY).embeddings[0]
    assert len(legacy) == DIM and np.linalg.norm(legacy) > 2  # the raw mean of the hidden states
    assert np.allclose(np.asarray(legacy) / np.linalg.norm(legacy), unit, atol=1e-4)
    assert oclient.embeddings(model=MODEL, prompt="").embedding == []


def test_openai_client_embeddings_float_and_base64(server):
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0, timeout=120)
    r = client.embeddings.create(model=MODEL, input=[SKY, BREAD])
    assert [d.index for d in r.data] == [0, 1] and len(r.data[0].embedding) == DIM
    assert r.usage.prompt_tokens > 10 and r.model == MODEL
    # The client asks for base64 by default when numpy is there and decodes it; ask explicitly too.
    raw = httpx.post(
        f"{server.url}/v1/embeddings", json={"model": MODEL, "input": SKY, "encoding_format": "base64"}, timeout=120
    ).json()
    decoded = np.frombuffer(base64.b64decode(raw["data"][0]["embedding"]), dtype="<f4")
    assert np.allclose(decoded, r.data[0].embedding, atol=1e-6)
    short = client.embeddings.create(model=MODEL, input=SKY, dimensions=32)
    assert len(short.data[0].embedding) == 32
    with pytest.raises(openai.BadRequestError):
        client.embeddings.create(model=MODEL, input=[])


def test_langchain_ollama_embeddings(server):
    emb = OllamaEmbeddings(model=MODEL, base_url=server.url)
    docs = emb.embed_documents([SKY, BREAD])
    query = emb.embed_query(SKY_AGAIN)
    assert len(docs) == 2 and len(query) == DIM
    assert cos(query, docs[0]) > cos(query, docs[1])


def test_chat_still_answers_the_same_beside_embeddings(oclient):
    """The model is loaded with embeddings on; greedy chat output must not change because of it."""
    first = oclient.generate(
        model=MODEL, prompt="Count: 1, 2, 3,", raw=True, options={"num_predict": 8, "temperature": 0}
    )
    oclient.embed(model=MODEL, input=[SKY, BREAD])
    again = oclient.generate(
        model=MODEL, prompt="Count: 1, 2, 3,", raw=True, options={"num_predict": 8, "temperature": 0}
    )
    assert first.response == again.response and first.response.strip()

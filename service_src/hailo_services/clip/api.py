"""hailo-clip's HTTP API.

- ``POST /v1/embeddings``: OpenAI's embeddings; ``input`` a string or a list, where a ``data:`` URI (or an
  http(s) URL when ``images.allow_remote`` is on) is embedded as an image and any other string as text,
  all into one space; ``encoding_format`` float or base64 (little-endian float32, as OpenAI sends it).
- ``POST /v1/classify``: zero-shot classification of one image (multipart, raw body or JSON, as every
  vision route: core/images.py) against ``labels`` put into ``template``, or verbatim ``prompts``:
  CLIP's softmax at its logit scale, ranked, ``top_k`` and ``threshold``; ``?annotate=true`` draws the
  best label on the region CLIP looked at.
- ``POST /v1/search``: rank images against a text or an image, or texts against either.
- ``POST /v1/embed/image`` and ``/v1/embed/text``: the seed service's endpoints.
"""

from __future__ import annotations

import base64
import io
import time
from typing import Any, Literal

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..core import drawing
from ..core.deps import ManagerDep, SettingsDep
from ..core.errors import BadRequest
from ..core.images import DecodedImage, decode_image_string, image_request_openapi, read_image_request
from ..core.request_body import json_body_openapi, parse_json
from . import processing
from .engine import ClipEngine

router = APIRouter(tags=["clip"])

SCHEMA_MAX_ITEMS = 2048  # the schema's bound; the settings' max_* are the ones enforced (and named)
DEFAULT_TEMPLATE = "a photo of a {}"


def _example_png(rgb: tuple[int, int, int]) -> str:
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), rgb).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


EXAMPLE_RED, EXAMPLE_BLUE = _example_png((220, 30, 30)), _example_png((30, 30, 220))


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def is_image_input(value: str, allow_remote: bool) -> bool:
    """Whether an ``input`` string is an image: a data: URI, or an http(s) URL when remote images are on
    (with them off a URL is just text, which is what a text embedding of a link should be)."""
    head = value[:8].lower()
    return head.startswith("data:") or (allow_remote and head.startswith(("http://", "https://")))


async def _decode_all(values: list[tuple[str, str]], settings: Any) -> list[DecodedImage]:
    """Decode (field name, string) images, after the caller checked how many there are."""
    return [
        await decode_image_string(value, settings.images, field=name, max_bytes=settings.max_body_bytes)
        for name, value in values
    ]


def _check_count(what: str, n: int, limit: int, setting: str) -> None:
    if n > limit:
        raise BadRequest(
            f"{n} {what} in one request, over the limit of {limit} (the service's {setting} setting)",
            code="too_many_inputs",
        )


def _encode(vector: np.ndarray, encoding_format: str) -> list[float] | str:
    if encoding_format == "base64":  # little-endian float32, what the openai client decodes
        return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()
    return [float(x) for x in vector]


# -- /v1/embeddings -----------------------------------------------------------------------------


class EmbeddingsRequest(BaseModel):
    """OpenAI's ``POST /v1/embeddings``; fields other clients send (``user``...) are accepted and ignored."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={"examples": [{"model": "clip_vit_b_32", "input": ["a photo of a red square", EXAMPLE_RED]}]},
    )

    model: str | None = Field(default=None, description="catalog model (default: the service's)")
    input: str | list[str] = Field(
        description="a string or a list of strings; a data: URI (or an http(s) URL when the service allows remote "
        "images) is embedded as an image, any other string as text"
    )
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(default=None, ge=1, le=4096, description="keep the first N dimensions")
    user: str | None = None

    @field_validator("input")
    @classmethod
    def _bounded(cls, v: str | list[str]) -> str | list[str]:
        if isinstance(v, list) and len(v) > SCHEMA_MAX_ITEMS:
            raise ValueError(f"at most {SCHEMA_MAX_ITEMS} inputs")
        return v


@router.post(
    "/v1/embeddings",
    openapi_extra=json_body_openapi(EmbeddingsRequest),
    summary="OpenAI embeddings of texts and images (data: URIs) in one CLIP space",
)
async def embeddings(request: Request, manager: ManagerDep, settings: SettingsDep) -> dict[str, Any]:
    req = await parse_json(request, EmbeddingsRequest)
    items = [req.input] if isinstance(req.input, str) else list(req.input)
    if not items:
        raise BadRequest("'input' must be a non-empty string or a non-empty list of strings", code="invalid_request")
    _check_count("inputs", len(items), settings.max_inputs, "max_inputs")
    kinds = [is_image_input(s, settings.images.allow_remote) for s in items]
    image_idx = [i for i, k in enumerate(kinds) if k]
    _check_count("images", len(image_idx), settings.max_images, "max_images")
    for i, (item, is_image) in enumerate(zip(items, kinds, strict=True)):
        if not is_image and not item.strip():
            raise BadRequest(f"input[{i}] is empty; send text or an image data: URI", code="invalid_request")
    images = await _decode_all([(f"input[{i}]", items[i]) for i in image_idx], settings)
    texts = [s for s, k in zip(items, kinds, strict=True) if not k]

    def run(engine: ClipEngine):
        return engine.embed_images([im.rgb for im in images]), engine.texts(texts)

    name, (image_vecs, text_out), _ = await manager.run_timed(req.model, run, disconnected=request.is_disconnected)
    vectors = np.zeros((len(items), image_vecs.shape[1] if len(image_idx) else text_out.vectors.shape[1]), np.float32)
    vectors[image_idx] = image_vecs
    vectors[[i for i, k in enumerate(kinds) if not k]] = text_out.vectors
    if req.dimensions is not None:
        if req.dimensions > vectors.shape[1]:
            raise BadRequest(
                f"dimensions {req.dimensions} is more than the model's {vectors.shape[1]}", code="invalid_request"
            )
        vectors = processing.shorten(vectors, req.dimensions)
    tokens = sum(text_out.tokens)
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": i, "embedding": _encode(v, req.encoding_format)}
            for i, v in enumerate(vectors)
        ],
        "model": name,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


# -- /v1/classify -------------------------------------------------------------------------------


def _split_list(value: Any) -> Any:
    """Multipart fields and query strings carry one string: "cat, dog" or a JSON array."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            import json

            try:
                return json.loads(text)
            except ValueError:
                raise ValueError("not a JSON array of strings") from None
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


class ClassifyForm(BaseModel):
    """Parameters of ``POST /v1/classify`` (JSON fields, multipart fields or the query string)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"labels": ["cat", "dog", "car"], "top_k": 3}]},
    )

    model: str | None = Field(default=None, description="catalog model (default: the service's)")
    labels: list[str] | None = Field(
        default=None,
        max_length=SCHEMA_MAX_ITEMS,
        description="class names, each put into `template` (multipart/query: comma-separated or a JSON array); "
        "neither labels nor prompts: the service's default_labels",
    )
    prompts: list[str] | None = Field(
        default=None, max_length=SCHEMA_MAX_ITEMS, description="full prompts, used as they are (the seed's field)"
    )
    template: str = Field(
        default=DEFAULT_TEMPLATE, min_length=2, max_length=1000, description="prompt for a label; {} is the label"
    )
    top_k: int = Field(default=5, ge=1, le=SCHEMA_MAX_ITEMS, description="best results returned")
    threshold: float = Field(default=0.0, ge=0.0, le=1.0, description="lowest score returned")
    annotate: bool = False

    @field_validator("labels", "prompts", mode="before")
    @classmethod
    def _lists(cls, v: Any) -> Any:
        return _split_list(v)

    @field_validator("template")
    @classmethod
    def _one_slot(cls, v: str) -> str:
        if v.count("{}") != 1:
            raise ValueError("the template must contain {} exactly once, where the label goes")
        return v

    @model_validator(mode="after")
    def _one_kind(self) -> ClassifyForm:
        if self.labels is not None and self.prompts is not None:
            raise ValueError("give labels or prompts, not both")
        return self


def _candidates(form: ClassifyForm, settings: Any) -> tuple[list[str], list[str]]:
    """(labels, prompts) of a classify request."""
    if form.prompts is not None:
        labels = prompts = list(form.prompts)
    else:
        labels = list(form.labels) if form.labels is not None else list(settings.default_labels)
        prompts = [form.template.replace("{}", label) for label in labels]
    if not prompts:
        raise BadRequest("no labels or prompts to classify against", code="invalid_request")
    _check_count("labels", len(prompts), settings.max_labels, "max_labels")
    if not all(p.strip() for p in prompts):
        raise BadRequest("a label or prompt is empty", code="invalid_request")
    return labels, prompts


@router.post(
    "/v1/classify",
    openapi_extra=image_request_openapi(ClassifyForm),
    summary="Zero-shot classification of an image against labels or prompts",
)
async def classify(request: Request, manager: ManagerDep, settings: SettingsDep) -> Response:
    started = time.perf_counter()
    image, form = await read_image_request(request, ClassifyForm, settings.images)
    labels, prompts = _candidates(form, settings)
    spec = manager.spec(form.model)

    def run(engine: ClipEngine):
        return engine.embed_images([image.rgb])[0], engine.texts(prompts).vectors

    name, (image_vec, text_vecs), engine_s = await manager.run_timed(
        spec.name, run, disconnected=request.is_disconnected
    )
    sims, probs = processing.zero_shot(image_vec, text_vecs, spec.logit_scale)
    order = sorted(range(len(prompts)), key=lambda i: -probs[i])
    ranked = [
        {
            "label": labels[i],
            "text": prompts[i],
            "score": round(float(probs[i]), 6),
            "similarity": round(float(sims[i]), 6),
            "rank": rank,
        }
        for rank, i in enumerate(order, 1)
        if probs[i] >= form.threshold
    ][: form.top_k]
    if form.annotate or drawing.wants_image(request):
        x1, y1, x2, y2 = processing.crop_box(image.width, image.height, spec.image_size)
        text = f"{ranked[0]['label']} {ranked[0]['score']:.2f}" if ranked else "no label over the threshold"
        picture = drawing.annotate(image.rgb, boxes=[(x1, y1, x2, y2, text, ranked[0]["label"] if ranked else 0)])
        return Response(drawing.png_bytes(picture), media_type="image/png")
    return JSONResponse(
        {
            "model": name,
            "classifications": ranked,
            "image_size": {"width": image.width, "height": image.height},
            "inference_ms": _ms(engine_s),
            "inference_time_ms": _ms(engine_s),  # the seed's name
            "total_ms": _ms(time.perf_counter() - started),
        }
    )


# -- /v1/search ---------------------------------------------------------------------------------


class SearchRequest(BaseModel):
    """Rank ``images`` or ``texts`` by their cosine similarity to one query, a text or an image."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"query": "a photo of a red square", "images": [EXAMPLE_BLUE, EXAMPLE_RED], "top_k": 2}]
        },
    )

    model: str | None = Field(default=None, description="catalog model (default: the service's)")
    query: str | None = Field(default=None, description="a text query")
    query_image: str | None = Field(default=None, description="an image query: base64, data: URI (or http(s) URL)")
    images: list[str] | None = Field(default=None, max_length=SCHEMA_MAX_ITEMS, description="images to rank")
    texts: list[str] | None = Field(default=None, max_length=SCHEMA_MAX_ITEMS, description="texts to rank")
    top_k: int = Field(default=10, ge=1, le=SCHEMA_MAX_ITEMS, description="best results returned")

    @model_validator(mode="after")
    def _shape(self) -> SearchRequest:
        if (self.query is None) == (self.query_image is None):
            raise ValueError("give one query: 'query' (text) or 'query_image'")
        if (self.images is None) == (self.texts is None):
            raise ValueError("give the candidates to rank: 'images' or 'texts'")
        return self


@router.post(
    "/v1/search",
    openapi_extra=json_body_openapi(SearchRequest),
    summary="Rank images or texts against a text or image query",
)
async def search(request: Request, manager: ManagerDep, settings: SettingsDep) -> dict[str, Any]:
    started = time.perf_counter()
    req = await parse_json(request, SearchRequest)
    candidates = req.images if req.images is not None else req.texts
    assert candidates is not None
    if not candidates:
        raise BadRequest("nothing to rank: the candidate list is empty", code="invalid_request")
    n_images = len(req.images or []) + (req.query_image is not None)
    _check_count("candidates", len(candidates), settings.max_inputs, "max_inputs")
    _check_count("images", n_images, settings.max_images, "max_images")
    if req.query is not None and not req.query.strip():
        raise BadRequest("'query' is empty", code="invalid_request")
    to_decode = [(f"images[{i}]", s) for i, s in enumerate(req.images or [])]
    if req.query_image is not None:
        to_decode.insert(0, ("query_image", req.query_image))
    decoded = [im.rgb for im in await _decode_all(to_decode, settings)]
    spec = manager.spec(req.model)

    def run(engine: ClipEngine):
        if req.query_image is not None:
            vecs = engine.embed_images(decoded)
            query, images = vecs[:1], vecs[1:]
        else:
            query, images = engine.texts([req.query or ""]).vectors, engine.embed_images(decoded)
        ranked = images if req.images is not None else engine.texts(list(req.texts or [])).vectors
        return query[0], ranked

    name, (query, ranked), engine_s = await manager.run_timed(spec.name, run, disconnected=request.is_disconnected)
    sims, probs = processing.zero_shot(query, ranked, spec.logit_scale)
    order = sorted(range(len(candidates)), key=lambda i: -sims[i])[: req.top_k]
    results = []
    for rank, i in enumerate(order, 1):
        row: dict[str, Any] = {"index": i, "score": round(float(sims[i]), 6), "probability": round(float(probs[i]), 6)}
        if req.texts is not None:
            row["text"] = req.texts[i]
        row["rank"] = rank
        results.append(row)
    return {
        "model": name,
        "query": "image" if req.query_image is not None else "text",
        "candidates": "images" if req.images is not None else "texts",
        "results": results,
        "inference_ms": _ms(engine_s),
        "total_ms": _ms(time.perf_counter() - started),
    }


# -- the seed's endpoints -----------------------------------------------------------------------


class EmbedImageForm(BaseModel):
    """Parameters of ``POST /v1/embed/image``."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(default=None, description="catalog model (default: the service's)")


@router.post(
    "/v1/embed/image",
    openapi_extra=image_request_openapi(EmbedImageForm),
    summary="The unit CLIP embedding of an image (the seed's endpoint)",
)
async def embed_image(request: Request, manager: ManagerDep, settings: SettingsDep) -> dict[str, Any]:
    image, form = await read_image_request(request, EmbedImageForm, settings.images)
    name, vecs, engine_s = await manager.run_timed(
        form.model, lambda e: e.embed_images([image.rgb]), disconnected=request.is_disconnected
    )
    return {
        "model": name,
        "embedding": [float(x) for x in vecs[0]],
        "dimension": int(vecs.shape[1]),
        "inference_ms": _ms(engine_s),
    }


class EmbedTextRequest(BaseModel):
    """``POST /v1/embed/text``: one text (the seed's shape) or a list."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"text": "a photo of a cat"}]})

    model: str | None = Field(default=None, description="catalog model (default: the service's)")
    text: str | list[str] = Field(description="a text, or a list of texts (answered as `embeddings`)")

    @field_validator("text")
    @classmethod
    def _bounded(cls, v: str | list[str]) -> str | list[str]:
        if isinstance(v, list) and len(v) > SCHEMA_MAX_ITEMS:
            raise ValueError(f"at most {SCHEMA_MAX_ITEMS} texts")
        return v


@router.post(
    "/v1/embed/text",
    openapi_extra=json_body_openapi(EmbedTextRequest),
    summary="The unit CLIP embedding of a text (the seed's endpoint)",
)
async def embed_text(request: Request, manager: ManagerDep, settings: SettingsDep) -> dict[str, Any]:
    req = await parse_json(request, EmbedTextRequest)
    texts = [req.text] if isinstance(req.text, str) else list(req.text)
    if not texts:
        raise BadRequest("'text' is an empty list", code="invalid_request")
    _check_count("texts", len(texts), settings.max_inputs, "max_inputs")
    if not all(t.strip() for t in texts):
        raise BadRequest("'text' must not be empty", code="invalid_request")
    name, out, engine_s = await manager.run_timed(
        req.model, lambda e: e.texts(texts), disconnected=request.is_disconnected
    )
    body: dict[str, Any] = {"model": name, "dimension": int(out.vectors.shape[1]), "inference_ms": _ms(engine_s)}
    if isinstance(req.text, str):
        body["embedding"] = [float(x) for x in out.vectors[0]]
    else:
        body["embeddings"] = [[float(x) for x in v] for v in out.vectors]
    body["tokens"] = out.tokens if isinstance(req.text, list) else out.tokens[0]
    return body

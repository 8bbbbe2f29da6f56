"""Images in chat requests, for both APIs: Ollama's ``images`` (base64 strings on a message, or on
/api/generate) and OpenAI's content parts (``image_url`` with a data URI, or an http(s) URL when the
service allows remote images; the seed's ``image`` part with raw base64).

Each image is decoded once here, with core's limits (pixels, bytes, EXIF orientation, SSRF rules for
URLs), into an RGB array on the message (``message["images"]``); the engines turn those into what
their runtime takes. A model without ``vision`` in its capabilities refuses images with Ollama's own
words, so clients that match on them keep working.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.errors import BadRequest, PayloadTooLarge
from ..core.images import decode_image_string
from ..core.models import ModelManager
from .tool_calls import capabilities

# Ollama's text for images sent to a model that cannot see them (clients match on it).
NO_VISION = "this model is missing data required for image input"
IMAGE_PARTS = ("image_url", "image", "input_image")


def check_vision(manager: ModelManager, model: str, count: int) -> None:
    """A 400 when ``model`` cannot take images, a 413 past the service's ``max_images``."""
    if not count:
        return
    if "vision" not in capabilities(manager.spec(model), manager.engine_kind):
        raise BadRequest(f"{model}: {NO_VISION} (it is a text model; hailo-vision serves vision models)")
    limit = int(getattr(manager.settings, "max_images", 0) or 0)
    if count > limit:
        raise PayloadTooLarge(f"{count} images in one request, more than max_images ({limit})")


async def decode_all(manager: ModelManager, values: list[str], field: str) -> list[np.ndarray]:
    """Each base64 / data URI / URL string as an RGB array, by core's rules."""
    settings = manager.settings
    out = []
    for i, value in enumerate(values):
        if not isinstance(value, str):
            raise BadRequest(f"{field}[{i}] must be a string (base64 or a data: URI)")
        image = await decode_image_string(
            value, settings.images, field=f"{field}[{i}]", max_bytes=settings.max_body_bytes
        )
        out.append(image.rgb)
    return out


def image_of_part(part: dict[str, Any], where: str) -> str:
    """The image string an OpenAI content part carries (``image_url.url``, a bare ``image_url``
    string, or the seed's ``image`` / ``data`` / ``source``)."""
    kind = part.get("type")
    if kind in ("image_url", "input_image"):
        ref = part.get("image_url")
        url = ref.get("url") if isinstance(ref, dict) else ref
    else:
        url = part.get("image") or part.get("data") or part.get("source")
    if not isinstance(url, str) or not url.strip():
        raise BadRequest(f"{where}: a content part of type {kind!r} needs an image (a data: URI or base64)")
    return url


def split_content(content: str | list[dict[str, Any]] | None, where: str) -> tuple[str, list[str]]:
    """An OpenAI message's content as (text, image strings), text parts joined in order."""
    if content is None or isinstance(content, str):
        return content or "", []
    texts: list[str] = []
    images: list[str] = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            texts.append(str(part.get("text", "")))
        elif kind in IMAGE_PARTS:
            images.append(image_of_part(part, where))
        elif kind == "input_audio":
            raise BadRequest(f"{where}: audio content parts are not supported; hailo-whisper transcribes audio")
        else:
            raise BadRequest(f"{where}: unknown content part type {kind!r}")
    return "".join(texts), images

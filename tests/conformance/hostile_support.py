"""What the hostile-input suite sends, derived from a service's OpenAPI document alone.

A POST operation is exercised through its request body's media types:

* ``application/json``: the body starts from the schema's first ``examples`` entry (every JSON body
  documents one, so /docs shows a working request), or, for an image route, from the image field
  filled with a real JPEG as base64;
* ``multipart/form-data``: the ``format: binary`` field gets a real JPEG, the other fields stay unset.

A media field whose schema says ``contentMediaType: audio/*`` (core/audio.py documents its routes so)
gets a real WAV instead, and the broken-media cases are audio ones (:func:`hostile_audio`).

:func:`fields` walks a body schema (through ``anyOf``, nested objects and the example's arrays) to
every leaf the example reaches or the schema declares, with its path and its schema, so that each
integer, string and array field can be replaced by a hostile value one at a time.
"""

from __future__ import annotations

import base64
import copy
import io
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

Path_ = tuple[str | int, ...]

# Integers that overflow C ints, 64-bit ints, and anything fixed-width.
BIG_INTS = (2**31, 2**63, 2**64, 10**30)


def real_jpeg(size: tuple[int, int] = (96, 64)) -> bytes:
    """A small photo-like JPEG (a gradient with a bright square), decodable by every image route."""
    w, h = size
    x = np.linspace(0, 255, w, dtype=np.float32)[None, :, None]
    y = np.linspace(0, 255, h, dtype=np.float32)[:, None, None]
    rgb = np.concatenate([np.broadcast_to(x, (h, w, 1)), np.broadcast_to(y, (h, w, 1)), np.full((h, w, 1), 90.0)], 2)
    rgb[h // 4 : h // 2, w // 4 : w // 2] = 250
    buf = io.BytesIO()
    Image.fromarray(rgb.astype(np.uint8)).save(buf, format="JPEG", quality=85)
    return buf.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png(ihdr: bytes, idat: bytes) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header says ``width`` x ``height`` while its compressed data stops after a few rows:
    a header that lies about the size. (At 60000 x 60000 it is also a decompression bomb's header.)

    A stream that is complete but holds fewer rows than the header says is decoded padded, by Pillow
    as by browsers; only data that ends mid-stream is an error, and that is what this makes."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    rows = (b"\0" + bytes(range(256)) * (min(width, 4096) // 256 + 1))[: min(width, 4096) + 1] * 8
    stream = zlib.compressobj(9)
    data = stream.compress(rows) + stream.flush(zlib.Z_SYNC_FLUSH)  # no end of stream
    return _png(ihdr, data)


def jpeg_claiming(width: int, height: int) -> bytes:
    """A real JPEG with its frame header (SOF0) rewritten to claim ``width`` x ``height``."""
    good = real_jpeg()
    sof = good.index(b"\xff\xc0")
    return good[: sof + 5] + struct.pack(">HH", height, width) + good[sof + 9 :]


def pixel_bomb_png(side: int = 12_000) -> bytes:
    """A real, complete PNG of ``side`` x ``side`` black pixels: a few hundred KB that decode to
    ``side``² bytes (144 MB at 12 000), past every service's pixel limit."""
    row = b"\0" + b"\0" * side
    data = zlib.compress(row * side, 9)
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return _png(ihdr, data)


def hostile_media() -> dict[str, bytes]:
    """Media files every image field must refuse with a 4xx (and not a 500, a hang or a crash)."""
    good = real_jpeg()
    return {
        "zero-byte file": b"",
        "truncated JPEG": good[: len(good) // 2],
        "JPEG header only": good[:200],
        "PNG whose header claims 4000x4000 and whose data stops after 8 rows": png_claiming(4000, 4000),
        "PNG whose header claims 60000x60000": png_claiming(60_000, 60_000),
        "JPEG whose header claims 60000x60000": jpeg_claiming(60_000, 60_000),
        "pixel bomb (12000x12000 PNG)": pixel_bomb_png(),
        "text posing as an image": b"GIF89a this is not a gif at all",
        "random bytes": np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes(),
    }


def real_wav(seconds: float = 1.0, rate: int = 16000) -> bytes:
    """A short WAV (a 440 Hz tone with a fade), decodable by every audio route."""
    t = np.arange(int(seconds * rate), dtype=np.float32) / rate
    tone = 0.3 * np.sin(2 * np.pi * 440 * t) * np.minimum(1.0, 10 * (seconds - t))
    return _wav((tone * 32767).astype("<i2").tobytes(), rate)


def _wav(pcm: bytes, rate: int, declared: int | None = None) -> bytes:
    size = len(pcm) if declared is None else declared
    fmt = struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
    return b"RIFF" + struct.pack("<I", 36 + size) + b"WAVEfmt " + fmt + b"data" + struct.pack("<I", size) + pcm


def hostile_audio() -> dict[str, bytes]:
    """Media files every audio field must refuse with a 4xx (and not a 500, a hang or a crash)."""
    good = real_wav()
    return {
        "zero-byte file": b"",
        "truncated WAV": good[: len(good) // 2],
        "WAV header only": good[:44],
        "WAV whose header claims 10 hours": _wav(b"\0" * 3200, 16000, declared=10 * 3600 * 32000),
        "a JPEG posing as audio": real_jpeg(),
        "text posing as audio": b"RIFF this is not a wave file at all",
        "random bytes": np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes(),
    }


@dataclass(frozen=True)
class Field:
    path: Path_
    schema: dict[str, Any]

    @property
    def name(self) -> str:
        return ".".join(str(p) for p in self.path if isinstance(p, str))

    @property
    def leaf(self) -> str:
        return str(self.path[-1])

    def branches(self) -> list[dict[str, Any]]:
        return [b for b in self.schema.get("anyOf", [self.schema]) if b.get("type") != "null"]

    def typed(self, kind: str) -> dict[str, Any] | None:
        """The branch of this field's schema of JSON type ``kind`` (``integer``, ``string``...), if any."""
        for b in self.branches():
            if b.get("type") == kind:
                return b
        return None


def fields(schema: dict[str, Any], example: Any, path: Path_ = (), depth: int = 0) -> Iterator[Field]:
    """Every property the schema declares, recursively (objects, the example's array items)."""
    if depth > 4:
        return
    for name, prop in (schema.get("properties") or {}).items():
        here = (*path, name)
        yield Field(here, prop)
        sub = example.get(name) if isinstance(example, dict) else None
        for branch in [b for b in prop.get("anyOf", [prop]) if isinstance(b, dict)]:
            if branch.get("type") == "object" and branch.get("properties"):
                yield from fields(branch, sub if isinstance(sub, dict) else {}, here, depth + 1)
            elif branch.get("type") == "array" and isinstance(sub, list) and sub:
                items = branch.get("items") or {}
                if items.get("type") == "object" or items.get("properties"):
                    yield from fields(items, sub[0], (*here, 0), depth + 1)


def with_value(body: dict[str, Any], path: Path_, value: Any) -> dict[str, Any]:
    """A deep copy of ``body`` with ``value`` at ``path`` (creating the objects on the way)."""
    out = copy.deepcopy(body)
    node: Any = out
    for key in path[:-1]:
        if isinstance(key, int):
            node = node[key]
        else:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise KeyError(path)
    node[path[-1]] = value
    return out


def reachable(body: dict[str, Any], path: Path_) -> bool:
    """Whether every array on ``path`` has the element the path names in ``body`` (objects are made)."""
    node: Any = body
    for key in path[:-1]:
        if isinstance(key, int):
            if not isinstance(node, list) or len(node) <= key:
                return False
            node = node[key]
        else:
            node = node.get(key, {}) if isinstance(node, dict) else None
            if not isinstance(node, dict):
                return False
    return True


@dataclass
class Operation:
    """One POST operation and the valid request the suite builds its hostile ones from."""

    path: str  # with path parameters filled in from their examples
    template: str
    json_schema: dict[str, Any] | None
    multipart_schema: dict[str, Any] | None
    json_example: dict[str, Any] | None
    image_field: str | None  # the field that carries an image (or audio), if this is a media route
    media: str = "image"  # what the media field carries: "image" or "audio" (contentMediaType audio/*)

    @property
    def media_type(self) -> str:
        return "audio/wav" if self.media == "audio" else "image/jpeg"

    def good_media(self) -> bytes:
        return real_wav() if self.media == "audio" else real_jpeg()

    def hostile_media(self) -> dict[str, bytes]:
        return hostile_audio() if self.media == "audio" else hostile_media()

    def good_json(self) -> dict[str, Any] | None:
        if self.image_field and self.json_schema is not None:
            return {self.image_field: base64.b64encode(self.good_media()).decode()}
        return copy.deepcopy(self.json_example) if self.json_example is not None else None

    def good_files(self) -> dict[str, tuple[str, bytes, str]] | None:
        if self.image_field and self.multipart_schema is not None:
            name = "clip.wav" if self.media == "audio" else "photo.jpg"
            return {self.image_field: (name, self.good_media(), self.media_type)}
        return None

    def good_request(self) -> dict[str, Any]:
        """httpx.request keyword arguments of a request this operation must answer with 2xx."""
        body = self.good_json()
        if body is not None:
            return {"json": body}
        files = self.good_files()
        if files is not None:
            return {"files": files}
        return {}  # an operation that takes nothing required (a list)


def _fill_path(template: str, op: dict[str, Any]) -> str | None:
    path = template
    for param in op.get("parameters", []):
        if param.get("in") != "path":
            continue
        examples = param.get("examples") or param.get("schema", {}).get("examples")
        example = examples[0] if isinstance(examples, list) and examples else param.get("example")
        if example is None:
            return None
        path = path.replace("{" + param["name"] + "}", str(example))
    return path


def post_operations(openapi: dict[str, Any]) -> tuple[list[Operation], list[str]]:
    """The POST operations to exercise, and the problems that keep one from being exercised (an
    undocumented example, a path parameter without one): the suite fails on those."""
    ops, problems = [], []
    for template, item in openapi["paths"].items():
        op = item.get("post")
        if op is None or template.startswith("/health") or op.get("x-hailo-fuzz") is False:
            continue
        path = _fill_path(template, op)
        if path is None:
            problems.append(f"{template}: a path parameter has no example")
            continue
        content = op.get("requestBody", {}).get("content", {})
        json_schema = content.get("application/json", {}).get("schema")
        multipart = content.get("multipart/form-data", {}).get("schema")
        image_field, media = None, "image"
        for schema in (multipart or {}, json_schema or {}):
            for name, prop in (schema.get("properties") or {}).items():
                if prop.get("format") == "binary" or name == "image" or "contentMediaType" in prop:
                    image_field = name
                    media = "audio" if str(prop.get("contentMediaType", "")).startswith("audio/") else "image"
                    break
            if image_field:
                break
        example = None
        if json_schema is not None:
            examples = json_schema.get("examples")
            example = examples[0] if isinstance(examples, list) and examples else None
            if example is None and not image_field:
                problems.append(f"{template}: its JSON body schema has no examples")
        ops.append(Operation(path, template, json_schema, multipart, example, image_field, media))
    return ops, problems

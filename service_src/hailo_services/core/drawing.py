"""Annotated pictures for ``?annotate=true`` / ``Accept: image/png``: boxes, labels, keypoints, polygons."""

from __future__ import annotations

import io
import zlib
from collections.abc import Hashable, Sequence
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from starlette.requests import Request

# (x1, y1, x2, y2, label text, colour key): the key picks the colour (class id or name), the text is shown.
Box = tuple[float, float, float, float, str, Hashable]
# (points, label text or None, colour key): an OCR text region, a segment outline...
Polygon = tuple[Sequence[tuple[float, float]], "str | None", Hashable]
Keypoints = Sequence[tuple[float, float, float]]  # one instance: (x, y, score) per keypoint

# Ultralytics' palette: 20 colours that stay distinguishable next to each other.
PALETTE: tuple[tuple[int, int, int], ...] = tuple(
    (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16))
    for h in (
        *("FF3838", "FF9D97", "FF701F", "FFB21D", "CFD231", "48F90A", "92CC17", "3DDB86", "1A9334", "00D4BB"),
        *("2C99A8", "00C2FF", "344593", "6473FF", "0018EC", "8438FF", "520085", "CB38FF", "FF95C8", "FF37C7"),
    )
)
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def colour_for(key: Hashable) -> tuple[int, int, int]:
    """The same colour for the same class in every response and process (crc32, not the salted hash())."""
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        return PALETTE[int(key) % len(PALETTE)]
    return PALETTE[zlib.crc32(str(key).encode()) % len(PALETTE)]


@lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    # Pillow >= 10.1 ships a scalable default font (Aileron), so no font file has to be installed.
    return ImageFont.load_default(size=size)


def _text_colour(bg: tuple[int, int, int]) -> tuple[int, int, int]:
    luma = 0.299 * bg[0] + 0.587 * bg[1] + 0.114 * bg[2]
    return (0, 0, 0) if luma > 140 else (255, 255, 255)


def annotate(
    rgb: np.ndarray,
    *,
    boxes: Sequence[Box] = (),
    keypoints: Sequence[Keypoints] = (),
    skeleton: Sequence[tuple[int, int]] = (),
    keypoint_threshold: float = 0.5,
    polygons: Sequence[Polygon] = (),
) -> Image.Image:
    """A copy of ``rgb`` (HxWx3 uint8) with the given shapes drawn on it.

    Keypoints are drawn per instance in that instance's colour; a skeleton edge (i, j) only where both
    ends score at least ``keypoint_threshold``. Labels are drawn last so no shape covers them.
    """
    image = Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    width, height = image.size
    # Ultralytics' sizes: thick enough to see on a 4K frame, thin enough not to hide a small object.
    line = max(round((width + height) / 2 * 0.003), 2)
    font = _font(max(round((width + height) / 2 * 0.03), 12))
    labels: list[tuple[float, float, str, tuple[int, int, int]]] = []  # x, top of the shape, text, colour

    for points, text, key in polygons:
        xy = [(float(x), float(y)) for x, y in points]
        if len(xy) < 2:
            continue
        colour = colour_for(key)
        draw.line([*xy, xy[0]], fill=colour, width=line, joint="curve")
        if text:
            top = min(y for _, y in xy)
            labels.append((min(x for x, _ in xy), top, text, colour))

    for x1, y1, x2, y2, text, key in boxes:
        colour = colour_for(key)
        left, top = round(min(x1, x2)), round(min(y1, y2))
        right, bottom = round(max(x1, x2)), round(max(y1, y2))
        draw.rectangle((left, top, right, bottom), outline=colour, width=line)
        if text:
            labels.append((left, top, text, colour))

    radius = max(line + 1, 3)
    for index, instance in enumerate(keypoints):
        colour = colour_for(index)
        pts = [(float(x), float(y), float(s)) for x, y, s in instance]
        for i, j in skeleton:
            if max(i, j) < len(pts) and min(pts[i][2], pts[j][2]) >= keypoint_threshold:
                draw.line([pts[i][:2], pts[j][:2]], fill=colour, width=line)
        for x, y, score in pts:
            if score >= keypoint_threshold:
                draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=colour, outline=(255, 255, 255))

    pad = max(line, 2)
    for x, top, text, colour in labels:
        tl, tt, tr, tb = draw.textbbox((0, 0), text, font=font)
        tw, th = tr - tl + 2 * pad, tb - tt + 2 * pad
        # Above the shape when there is room, else just inside its top edge; never off the image's right edge.
        y = top - th if top - th >= 0 else min(top, max(height - th, 0))
        x = min(max(x, 0), max(width - tw, 0))
        draw.rectangle((x, y, x + tw - 1, y + th - 1), fill=colour)
        draw.text((x + pad - tl, y + pad - tt), text, fill=_text_colour(colour), font=font)
    return image


def png_bytes(image: Image.Image) -> bytes:
    """PNG-encode ``image``. compress_level=1: on a Pi zlib's default level costs several times the time
    for a file only ~10-20 % smaller, and these pictures go to a viewer on the LAN."""
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def _accept_q(accept: str, mime: str) -> tuple[float, int]:
    """(q, specificity) of the most specific Accept range matching ``mime``; specificity -1 = no match."""
    want_type, _, _ = mime.partition("/")
    best_q, best_spec = 0.0, -1
    for part in accept.split(","):
        media, *params = part.split(";")
        media = media.strip().lower()
        if not media:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0
        kind, _, sub = media.partition("/")
        if media == mime:
            spec = 2
        elif sub == "*" and kind == want_type:
            spec = 1
        elif media == "*/*":
            spec = 0
        else:
            continue
        if spec > best_spec:
            best_q, best_spec = q, spec
    return best_q, best_spec


def wants_image(request: Request) -> bool:
    """True for ``?annotate=true`` (1, yes, on), or an Accept header that prefers image/png over JSON.

    ``?annotate=false`` wins over Accept. ``*/*`` alone (curl, most clients) means JSON; ``image/*`` or
    ``image/png`` ranked above application/json means the picture.
    """
    flag = request.query_params.get("annotate")
    if flag is not None:
        value = flag.strip().lower()
        if value in _TRUE:
            return True
        if value in _FALSE or value == "":
            return False
    return prefers(request, "image/png")


def prefers(request: Request, mime: str) -> bool:
    """True when the Accept header names ``mime`` (exactly or as ``type/*``) and ranks it above
    application/json, e.g. ``Accept: text/plain`` for a route that can answer with plain text.
    ``*/*`` alone (curl, most clients) means JSON."""
    accept = request.headers.get("accept", "")
    if not accept:
        return False
    q, spec = _accept_q(accept, mime)
    if spec < 1 or q <= 0:
        return False
    q_json, _ = _accept_q(accept, "application/json")
    return q > q_json

"""core/drawing.py: shapes at the right pixels (read back), stable colours, PNG output, wants_image()."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from skimage import data
from starlette.requests import Request

from hailo_services.core.drawing import PALETTE, annotate, colour_for, png_bytes, wants_image

GREY = (128, 128, 128)


def canvas(width: int = 200, height: int = 100, colour: tuple[int, int, int] = (255, 255, 255)) -> np.ndarray:
    img = np.empty((height, width, 3), np.uint8)
    img[:] = colour
    return img


def px(image: Image.Image, x: int, y: int) -> tuple[int, int, int]:
    return tuple(int(v) for v in np.asarray(image)[y, x])


def test_colours_are_stable_and_distinct():
    assert colour_for("person") == colour_for("person") in PALETTE
    assert colour_for(0) == PALETTE[0] and colour_for(21) == PALETTE[1]
    assert colour_for(np.int64(3)) == PALETTE[3]
    # crc32, not hash(): the value is fixed across processes (PYTHONHASHSEED) and releases
    assert colour_for("car") == PALETTE[2000545437 % 20]  # zlib.crc32(b"car")
    assert len({colour_for(name) for name in ("person", "car", "dog", "cat", "bicycle")}) >= 4


def test_box_outline_is_drawn_on_its_edges_and_nowhere_else():
    # 200x100 image: line width max(round(150 * 0.003), 2) = 2, drawn inward from the box edges.
    img = canvas()
    out = annotate(img, boxes=[(20, 30, 120, 80, "", "car")])
    c = colour_for("car")
    for x, y in [(20, 55), (21, 55), (120, 55), (119, 55), (70, 30), (70, 31), (70, 80), (70, 79)]:
        assert px(out, x, y) == c, (x, y)
    for x, y in [(22, 55), (118, 55), (70, 32), (70, 78), (19, 55), (121, 55), (70, 29), (70, 81), (70, 55)]:
        assert px(out, x, y) == (255, 255, 255), (x, y)
    changed = (np.asarray(out) != img).any(axis=2)
    assert changed.sum() == 2 * 2 * (101 + 51) - 4 * 4  # two 2-px rings' perimeter, corners counted once
    assert (img == 255).all()  # the input is not modified


def test_label_sits_above_the_box_in_its_colour_with_contrasting_text():
    img = canvas(400, 300, GREY)
    box_colour = colour_for("dog")
    out = np.asarray(annotate(img, boxes=[(100, 150, 300, 280, "dog 0.93", "dog")]))
    above = out[100:150, 100:300]
    is_bg = (above == box_colour).all(axis=2)
    assert is_bg.sum() > 300  # a filled label background just above the box's top edge
    text = 255 if sum(w * v for w, v in zip((0.299, 0.587, 0.114), box_colour, strict=True)) <= 140 else 0
    near_text = (np.abs(above.astype(int) - text) < 60).all(axis=2)  # antialiased glyphs
    assert near_text.sum() > 20  # and the label's text on it
    assert (out[:100] == GREY).all()  # nothing far above the label


def test_label_goes_inside_when_the_box_touches_the_top():
    out = np.asarray(annotate(canvas(400, 300, GREY), boxes=[(10, 0, 200, 200, "person", "person")]))
    inside = out[0:40, 10:200]
    assert ((inside == colour_for("person")).all(axis=2)).sum() > 300


def test_keypoints_and_skeleton_respect_the_threshold():
    img = canvas(200, 200)
    person = [(50, 50, 0.9), (150, 50, 0.8), (150, 150, 0.1)]  # the third is under the threshold
    out = annotate(img, keypoints=[person], skeleton=[(0, 1), (1, 2)], keypoint_threshold=0.5)
    c = colour_for(0)  # the first instance's colour
    assert px(out, 100, 50) == c  # on the 0-1 edge
    assert px(out, 150, 100) == (255, 255, 255)  # the 1-2 edge is not drawn
    assert px(out, 150, 150) == (255, 255, 255)  # nor the low-score keypoint
    assert px(out, 50, 50) == c and px(out, 150, 50) == c


def test_polygon_edges_and_label():
    img = canvas(300, 200, GREY)
    quad = [(50, 100), (250, 100), (250, 180), (50, 180)]
    out = annotate(img, polygons=[(quad, "HELLO", "text")])
    c = colour_for("text")
    assert px(out, 150, 100) == c and px(out, 250, 140) == c and px(out, 150, 180) == c and px(out, 50, 140) == c
    assert px(out, 150, 140) == GREY
    assert ((np.asarray(out)[60:100, 50:250] == c).all(axis=2)).sum() > 200  # label above the top edge


def test_png_bytes_round_trip_a_real_photo():
    photo = data.coffee()
    annotated = annotate(photo, boxes=[(10, 10, 200, 150, "cup", 41)])
    blob = png_bytes(annotated)
    assert blob.startswith(b"\x89PNG\r\n\x1a\n")
    back = Image.open(io.BytesIO(blob))
    assert back.size == (photo.shape[1], photo.shape[0])
    np.testing.assert_array_equal(np.asarray(back.convert("RGB")), np.asarray(annotated))


def test_line_width_grows_with_the_image():
    small = np.asarray(annotate(canvas(200, 100), boxes=[(20, 20, 150, 80, "", 1)]))
    big = np.asarray(annotate(canvas(2000, 1000), boxes=[(200, 200, 1500, 800, "", 1)]))
    small_w = (small[50, :100] != 255).any(axis=1).sum()
    big_w = (big[500, :1000] != 255).any(axis=1).sum()
    assert (small_w, big_w) == (2, 4)  # round(1500 * 0.003) = 4 (round half to even)


def request(query: str = "", accept: str | None = None) -> Request:
    headers = [(b"accept", accept.encode())] if accept is not None else []
    return Request({"type": "http", "method": "POST", "path": "/", "query_string": query.encode(), "headers": headers})


@pytest.mark.parametrize(
    ("query", "accept", "expected"),
    [
        ("", None, False),
        ("annotate=true", None, True),
        ("annotate=1", None, True),
        ("annotate=YES", None, True),
        ("annotate=false", "image/png", False),  # explicit false wins over Accept
        ("annotate=0", None, False),
        ("", "*/*", False),  # curl's default
        ("", "image/png", True),
        ("", "image/*", True),
        ("", "application/json", False),
        ("", "application/json, image/png", False),  # a tie goes to JSON
        ("", "image/png, application/json;q=0.5", True),
        ("", "application/json, image/png;q=0.5", False),
        ("", "image/png;q=0", False),
        ("", "image/webp", False),
        # a browser navigating: image/png only through */*
        ("", "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8", False),
        # a browser's <img src>: image/* above */*
        ("", "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8", True),
    ],
)
def test_wants_image(query, accept, expected):
    assert wants_image(request(query, accept)) is expected

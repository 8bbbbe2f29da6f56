"""hailo-ocr over real HTTP (``hailo-services run hailo-ocr``, CPU engine, the PP-OCRv6 ONNX files the
rapidocr wheel ships), on text rendered by Pillow in a real font, checked word for word."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
from PIL import Image

from harness import Service, start_service, stop_service
from text_pages import INVOICE_ROWS, invoice, render

LINES = ["Hello Hailo NPU 2025", "The quick brown fox jumps", "over the lazy dog."]


def png(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def ocr(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    svc = start_service("hailo-ocr", tmp_path_factory.mktemp("ocr"), {"threads": 2})
    yield svc
    stop_service(svc)


@pytest.fixture(scope="module")
def page() -> bytes:
    return png(render(LINES))


def post(svc: Service, image: bytes, **params) -> httpx.Response:
    return httpx.post(f"{svc.url}/v1/ocr", files={"image": ("page.png", image, "image/png")}, data=params, timeout=60)


def test_several_lines_word_for_word_with_boxes_and_timings(ocr, page):
    r = post(ocr, page)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"] == "paddleocr"
    assert body["text"] == "\n".join(LINES)
    assert [line["text"] for line in body["lines"]] == LINES
    assert body["image_size"] == {"width": 800, "height": 300}
    for i, line in enumerate(body["lines"]):
        assert 0.8 < line["confidence"] <= 1.0
        (x0, y0), (x1, _), (_, y2), _ = line["box"]
        assert len(line["box"]) == 4 and 10 < x0 < 40 and x1 > 250
        assert y0 < 24 + i * 54 + 16 < y2  # the box holds its rendered line (drawn at y = 24 + 54 i, 32 px font)
    t = body["timings"]
    assert t["detection_ms"] > 0 and t["recognition_ms"] > 0
    assert t["total_ms"] >= t["detection_ms"] + t["recognition_ms"]


def test_a_rotated_line(ocr):
    r = post(ocr, png(render(["Rotated text reads fine"], (640, 120), angle=12)))
    assert r.status_code == 200, r.text
    assert r.json()["text"] == "Rotated text reads fine"


def test_an_invoice_reads_row_by_row_left_to_right(ocr):
    r = post(ocr, png(invoice()))
    assert r.status_code == 200, r.text
    assert r.json()["text"].split("\n") == INVOICE_ROWS


def test_an_empty_page_is_empty_text_not_an_error(ocr):
    r = post(ocr, png(np.full((240, 320, 3), 255, np.uint8)))
    assert r.status_code == 200, r.text
    assert r.json()["text"] == "" and r.json()["lines"] == []
    plain = httpx.post(
        f"{ocr.url}/v1/ocr",
        content=png(np.full((64, 64, 3), 255, np.uint8)),
        headers={"Content-Type": "image/png", "Accept": "text/plain"},
    )
    assert plain.status_code == 200 and plain.text == ""


def test_accept_text_plain_gives_just_the_text(ocr, page):
    r = httpx.post(f"{ocr.url}/v1/ocr", content=page, headers={"Content-Type": "image/png", "Accept": "text/plain"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    assert r.text == "\n".join(LINES) + "\n"


def test_json_base64_and_data_uri(ocr, page):
    for image in (base64.b64encode(page).decode(), "data:image/png;base64," + base64.b64encode(page).decode()):
        r = httpx.post(f"{ocr.url}/v1/ocr", json={"image": image, "rec_threshold": 0.9}, timeout=60)
        assert r.status_code == 200, r.text
        assert r.json()["text"] == "\n".join(LINES)


def test_annotate_returns_the_page_with_boxes_drawn(ocr, page):
    r = post(ocr, page, annotate="true")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    picture = np.array(Image.open(io.BytesIO(r.content)).convert("RGB"))
    assert picture.shape == (300, 800, 3)
    original = render(LINES)
    changed = (np.abs(picture.astype(int) - original.astype(int)).sum(axis=2) > 60).mean()
    assert 0.01 < changed < 0.5  # outlines and labels drawn, the page still there
    by_accept = httpx.post(f"{ocr.url}/v1/ocr", files={"image": ("p.png", page)}, headers={"Accept": "image/png"})
    assert by_accept.headers["content-type"] == "image/png"


def test_the_seeds_extract_route_keeps_its_response_shape(ocr, page):
    uri = "data:image/png;base64," + base64.b64encode(page).decode()
    r = httpx.post(f"{ocr.url}/v1/ocr/extract", json={"image": uri, "languages": ["en"]}, timeout=60)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["success"] is True and body["text"] == "\n".join(LINES)
    assert [reg["text"] for reg in body["regions"]] == LINES
    assert all(reg["type"] == "text" and len(reg["bbox"]) == 4 for reg in body["regions"])
    assert body["languages_detected"] == ["en"]
    assert body["statistics"]["total_regions"] == 3 and 0.8 < body["statistics"]["average_confidence"] <= 1
    assert set(body["performance"]) == {"detection_time_ms", "recognition_time_ms", "total_time_ms"}
    assert body["hailo_info"] == {"engine": "cpu", "model": "paddleocr", "npu": False}


def test_the_seeds_file_paths_are_refused_not_read(ocr):
    r = httpx.post(f"{ocr.url}/v1/ocr/extract", json={"image": "file:///etc/passwd", "languages": ["en"]})
    assert r.status_code == 400, r.text
    assert "error" in r.json()


def test_thresholds_are_honoured(ocr, page):
    assert post(ocr, page, min_confidence="1.0").json()["lines"] == []  # no region is certain everywhere
    assert post(ocr, page, max_lines="1").json()["text"].count("\n") == 0


@pytest.mark.parametrize(
    ("kwargs", "status", "needle"),
    [
        ({"content": b"not an image", "headers": {"Content-Type": "image/png"}}, 400, "image"),
        ({"content": b"<html></html>", "headers": {"Content-Type": "text/html"}}, 415, "content type"),
        ({"content": b"", "headers": {"Content-Type": "image/png"}}, 400, "empty"),
        ({"json": {"image": "%%%not base64%%%"}}, 400, "base64"),
        ({"json": {"image": "", "languages": ["en"]}}, 400, "image"),
    ],
)
def test_bad_input_is_a_4xx_in_openai_shape(ocr, kwargs, status, needle):
    r = httpx.post(f"{ocr.url}/v1/ocr", **kwargs)
    assert r.status_code == status, r.text
    assert needle in r.json()["error"]["message"].lower()


@pytest.mark.parametrize(
    ("params", "status", "needle"),
    [
        ({"det_threshold": "2"}, 400, "det_threshold"),
        ({"max_lines": "0"}, 400, "max_lines"),
        ({"languages": "en,fr"}, 400, "'fr'"),
        ({"model": "tesseract"}, 404, "tesseract"),
        ({"colour": "red"}, 400, "colour"),
    ],
)
def test_bad_parameters_are_4xx_naming_them(ocr, page, params, status, needle):
    r = post(ocr, page, **params)
    assert r.status_code == status, r.text
    assert needle in r.json()["error"]["message"]


def test_models_lists_the_catalog(ocr):
    r = httpx.get(f"{ocr.url}/v1/models")
    assert r.status_code == 200
    assert "paddleocr" in [m["id"] for m in r.json()["data"]]


def test_16_concurrent_requests_are_answered_200_or_503_with_retry_after(tmp_path_factory):
    from concurrent.futures import ThreadPoolExecutor

    svc = start_service("hailo-ocr", tmp_path_factory.mktemp("ocr-busy"), {"threads": 1, "queue_max_waiting": 3})
    try:
        image = png(render(["Busy"], (200, 80)))

        def one(_: int) -> httpx.Response:
            return httpx.post(f"{svc.url}/v1/ocr", files={"image": ("b.png", image, "image/png")}, timeout=120)

        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(one, range(16)))
        statuses = sorted(r.status_code for r in answers)
        assert set(statuses) <= {200, 503}, statuses
        assert statuses.count(200) >= 4  # the one running and the three waiting at least
        for r in answers:
            if r.status_code == 503:
                assert int(r.headers["Retry-After"]) >= 1 and "error" in r.json()
            else:
                assert r.json()["text"] == "Busy"
    finally:
        stop_service(svc)

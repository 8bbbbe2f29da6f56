"""hailo-detect over real HTTP: DeepStack / CodeProject.AI as Frigate, Home Assistant and Blue Iris
call it, COCO JSON, annotated PNGs, and bad input answered 4xx in the API's own shape."""

from __future__ import annotations

import io
import struct
import zlib

import httpx
import numpy as np
import pytest
from PIL import Image

from harness import jpeg


def deepstack(svc, image: bytes, **form) -> httpx.Response:
    return httpx.post(f"{svc.url}/v1/vision/detection", files={"image": ("image.jpg", image)}, data=form, timeout=60)


def labels(body) -> list[str]:
    return [p["label"] for p in body["predictions"]]


@pytest.mark.parametrize(("photo", "label"), [("cat", "cat"), ("coffee", "cup"), ("astronaut", "person")])
def test_deepstack_finds_the_object(detect, photos, photo, label):
    r = deepstack(detect, photos[photo])
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    body = r.json()
    assert body["success"] is True and body["code"] == 200 and body["count"] == len(body["predictions"])
    assert label in labels(body), body
    scores = [p["confidence"] for p in body["predictions"]]
    assert scores == sorted(scores, reverse=True), "Frigate stops at the first score below its threshold"
    assert all(s >= 0.4 for s in scores)  # DeepStack's default min_confidence
    for p in body["predictions"]:
        assert all(isinstance(p[k], int) for k in ("x_min", "y_min", "x_max", "y_max"))
        assert 0 <= p["x_min"] < p["x_max"] and 0 <= p["y_min"] < p["y_max"]
    assert body["inferenceMs"] >= 0 and body["processMs"] >= body["inferenceMs"]
    assert body["moduleId"] and body["command"] == "detect"


def test_the_cat_box_covers_the_cat(detect, photos):
    """chelsea is 451x300 and the cat fills most of it."""
    (cat,) = [p for p in deepstack(detect, photos["cat"]).json()["predictions"] if p["label"] == "cat"]
    assert cat["x_max"] - cat["x_min"] > 250 and cat["y_max"] - cat["y_min"] > 200


def test_min_confidence_is_honoured(detect, photos):
    low = deepstack(detect, photos["coffee"], min_confidence="0.1").json()["predictions"]
    high = deepstack(detect, photos["coffee"], min_confidence="0.9").json()["predictions"]
    assert len(low) > len(high) and all(p["confidence"] >= 0.9 for p in high)
    assert all(p["confidence"] >= 0.1 for p in low)


def frigate_detect_raw(api_url: str, api_key: str, tensor: np.ndarray, timeout: float, labels: dict[int, str]):
    """Frigate's deepstack detector plugin (frigate/detectors/plugins/deepstack.py), line for line:
    a JPEG of the model-sized RGB frame as the `image` file part (no part content type), `api_key`
    as a form field, then the predictions read until the first under 0.4 or an unknown label."""
    image = Image.fromarray(np.squeeze(tensor).astype(np.uint8))
    w, h = image.size
    with io.BytesIO() as output:
        image.save(output, format="JPEG")
        image_bytes = output.getvalue()
    response = httpx.post(api_url, data={"api_key": api_key}, files={"image": ("image", image_bytes)}, timeout=timeout)
    response_json = response.json()
    detections = np.zeros((20, 6), np.float32)
    if response_json.get("predictions") is None:
        return detections
    by_name = {v: k for k, v in labels.items()}
    for i, detection in enumerate(response_json.get("predictions")):
        if detection["confidence"] < 0.4:
            break
        label = by_name.get("car" if detection["label"].lower() == "truck" else detection["label"].lower(), -1)
        if label < 0:
            break
        detections[i] = [
            label,
            float(detection["confidence"]),
            detection["y_min"] / h,
            detection["x_min"] / w,
            detection["y_max"] / h,
            detection["x_max"] / w,
        ]
    return detections


def test_frigate_deepstack_plugin_sees_the_cat(detect_with_key, api_key):
    from skimage import data

    from hailo_services.detect.labels import COCO80

    frame = np.asarray(Image.fromarray(data.chelsea()).resize((320, 320)))  # Frigate's 320x320 model input
    rows = frigate_detect_raw(
        f"{detect_with_key.url}/v1/vision/detection", api_key, frame[None], 10.0, dict(enumerate(COCO80))
    )
    found = rows[rows[:, 1] > 0]
    assert len(found) >= 1
    best = found[0]
    assert COCO80[int(best[0])] == "cat" and best[1] >= 0.5
    y_min, x_min, y_max, x_max = best[2:]
    assert 0 <= x_min < x_max <= 1 and 0 <= y_min < y_max <= 1 and (x_max - x_min) > 0.5


def test_api_key_as_form_field_header_or_not_at_all(detect_with_key, photos, api_key):
    url = f"{detect_with_key.url}/v1/vision/detection"
    files = {"image": ("a.jpg", photos["cat"])}
    assert httpx.post(url, files=files, data={"api_key": api_key}).status_code == 200
    assert httpx.post(url, files=files, headers={"x-api-key": api_key}).status_code == 200
    for form in ({}, {"api_key": "nope"}):
        r = httpx.post(url, files=files, data=form)
        assert r.status_code == 401 and r.json()["success"] is False and r.json()["code"] == 401
    # The form-field key is a DeepStack courtesy: the COCO route needs the header.
    assert httpx.post(f"{detect_with_key.url}/v1/detect", files=files, data={"api_key": api_key}).status_code == 401


def test_custom_model_route_and_list(detect, photos):
    models = httpx.post(f"{detect.url}/v1/vision/custom/list").json()
    assert models["success"] is True and "ssd_mobilenet_v2_coco" in models["models"]
    r = httpx.post(f"{detect.url}/v1/vision/custom/ssd_mobilenet_v2_coco", files={"image": ("a.jpg", photos["cat"])})
    assert r.status_code == 200 and "cat" in labels(r.json())
    r = httpx.post(f"{detect.url}/v1/vision/custom/yolov99", files={"image": ("a.jpg", photos["cat"])})
    assert r.status_code == 404 and r.json() == {"success": False, "error": "model 'yolov99' not found", "code": 404}


def test_ping(detect):
    body = httpx.get(f"{detect.url}/v1/status/ping").json()
    assert body["success"] is True and body["code"] == 200 and "version" in body


def test_coco_json_with_a_raw_body_and_filters(detect, photos):
    r = httpx.post(
        f"{detect.url}/v1/detect?confidence=0.3&classes=cup,bowl",
        content=photos["coffee"],
        headers={"content-type": "image/jpeg"},
    )
    body = r.json()
    assert r.status_code == 200 and body["image"] == {"width": 600, "height": 400}
    assert {d["label"] for d in body["detections"]} <= {"cup", "bowl"} and body["detections"]
    cup = next(d for d in body["detections"] if d["label"] == "cup")
    x, y, w, h = cup["bbox"]
    assert cup["category_id"] == 47 and w > 20 and h > 20 and x + w <= 600 and y + h <= 400


def test_coco_json_body_with_base64_and_max_detections(detect, photos):
    import base64

    body = {"image": base64.b64encode(photos["coffee"]).decode(), "confidence": 0.1, "max_detections": 1}
    r = httpx.post(f"{detect.url}/v1/detect", json=body)
    assert r.status_code == 200 and r.json()["count"] == 1


def test_annotated_png(detect, photos):
    for r in (
        httpx.post(f"{detect.url}/v1/detect?annotate=true", files={"image": ("a.jpg", photos["cat"])}),
        httpx.post(
            f"{detect.url}/v1/vision/detection",
            files={"image": ("a.jpg", photos["cat"])},
            headers={"accept": "image/png"},
        ),
    ):
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        picture = Image.open(io.BytesIO(r.content))
        assert picture.size == (451, 300)


def png_bomb(width: int = 20000, height: int = 20000) -> bytes:
    """A valid PNG header claiming width x height pixels, with a tiny (truncated) body."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 1024)) + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("route", ["/v1/vision/detection", "/v1/detect"])
def test_bad_input_is_4xx_in_the_apis_shape(detect, photos, route):
    url = f"{detect.url}{route}"
    cases = {
        "not an image": (400, {"files": {"image": ("a.jpg", b"hello, I am text")}}),
        "truncated jpeg": (400, {"files": {"image": ("a.jpg", photos["cat"][: len(photos["cat"]) // 2])}}),
        "empty file": (400, {"files": {"image": ("a.jpg", b"")}}),
        "png bomb": (413, {"files": {"image": ("bomb.png", png_bomb())}}),
        "empty form": (400, {"data": {"min_confidence": "0.5"}, "files": {"other": ("x", b"")}}),
        "wrong field": (400, {"files": {"picture": ("a.jpg", photos["cat"])}}),
        "pdf body": (415, {"content": b"%PDF-1.4 ...", "headers": {"content-type": "application/pdf"}}),
        "too big": (413, {"content": b"\0" * (4 * 1024 * 1024 + 1), "headers": {"content-type": "image/jpeg"}}),
    }
    if route == "/v1/detect":
        cases["negative threshold"] = (
            400,
            {"files": {"image": ("a.jpg", photos["cat"])}, "data": {"confidence": "-1"}},
        )
        cases["unknown class"] = (400, {"files": {"image": ("a.jpg", photos["cat"])}, "data": {"classes": "dragon"}})
    else:
        cases["negative threshold"] = (
            400,
            {"files": {"image": ("a.jpg", photos["cat"])}, "data": {"min_confidence": "-0.5"}},
        )
    for name, (status, kwargs) in cases.items():
        r = httpx.post(url, timeout=30, **kwargs)
        assert r.status_code == status, (name, r.status_code, r.text[:300])
        body = r.json()
        if route.startswith("/v1/vision"):
            assert body["success"] is False and body["code"] == status and body["error"], name
        else:
            assert body["error"]["message"] and body["error"]["type"], name
    assert deepstack(detect, photos["cat"]).status_code == 200  # and the service is fine afterwards


def test_frigate_jpeg_quality_and_odd_sizes(detect):
    """Small, odd-sized and greyscale frames decode and come back in source pixels."""
    grey = np.full((97, 131), 128, np.uint8)
    r = deepstack(detect, jpeg(np.stack([grey] * 3, axis=2), quality=30))
    assert r.status_code == 200 and r.json()["success"] is True

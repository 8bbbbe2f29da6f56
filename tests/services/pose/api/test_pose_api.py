"""hailo-pose over real HTTP, on a tiny graph with the YOLOv8-pose export's interface whose answer is
known (tests/tiny_models.py: one person at input box (240, 80)-(400, 560), keypoints at
(300 + 4j, 100 + 24j) with score 0.75). The astronaut photo is 512x512, so the 640x640 letterbox
scales by 1.25 with no padding and every source coordinate is the input one / 1.25."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image
from skimage import data

from hailo_services.pose.processing import KEYPOINT_NAMES, SKELETON
from harness import Service, jpeg, start_service, stop_service

PROVISION = Path(__file__).resolve().parents[1] / "provision.py"


@pytest.fixture(scope="module")
def pose(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    import importlib.util

    spec = importlib.util.spec_from_file_location("pose_provision", PROVISION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    workdir = tmp_path_factory.mktemp("pose")
    svc = start_service("hailo-pose", workdir, module.provision(workdir))
    yield svc
    stop_service(svc)


@pytest.fixture(scope="module")
def astronaut() -> bytes:
    return jpeg(data.astronaut())


def test_one_person_with_17_coco_keypoints_in_source_pixels(pose, astronaut):
    r = httpx.post(f"{pose.url}/v1/pose/detect", files={"image": ("a.jpg", astronaut)})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["count"] == 1 and body["image_size"] == {"width": 512, "height": 512}
    (person,) = body["poses"]
    assert person["person_id"] == 0 and person["score"] == pytest.approx(0.88, abs=1e-3)
    assert person["bbox"] == pytest.approx({"x": 192, "y": 64, "width": 128, "height": 384}, abs=0.2)
    assert [k["name"] for k in person["keypoints"]] == list(KEYPOINT_NAMES)
    for j, k in enumerate(person["keypoints"]):
        assert k["x"] == pytest.approx((300 + 4 * j) / 1.25, abs=0.2)
        assert k["y"] == pytest.approx(min(100 + 24 * j, 640) / 1.25, abs=0.2)
        assert k["score"] == pytest.approx(0.75, abs=1e-3)
    assert len(person["skeleton"]) == len(SKELETON)
    assert person["skeleton"][0] == {
        "from": KEYPOINT_NAMES[SKELETON[0][0]],
        "to": KEYPOINT_NAMES[SKELETON[0][1]],
        "from_index": SKELETON[0][0],
        "to_index": SKELETON[0][1],
    }


def test_thresholds(pose, astronaut):
    url = f"{pose.url}/v1/pose/detect"
    files = {"image": ("a.jpg", astronaut)}
    assert httpx.post(url, files=files, data={"confidence_threshold": "0.9"}).json()["count"] == 0
    (person,) = httpx.post(url, files=files, data={"keypoint_threshold": "0.8"}).json()["poses"]
    assert person["skeleton"] == [] and len(person["keypoints"]) == 17  # still reported, just not "visible"


def test_json_base64_and_annotated_png(pose, astronaut):
    import base64

    r = httpx.post(f"{pose.url}/v1/pose/detect", json={"image": base64.b64encode(astronaut).decode()})
    assert r.status_code == 200 and r.json()["count"] == 1
    r = httpx.post(
        f"{pose.url}/v1/pose/detect", content=astronaut, headers={"content-type": "image/jpeg", "accept": "image/png"}
    )
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(r.content)).size == (512, 512)


def test_bad_input_is_4xx_in_the_openai_shape(pose, astronaut):
    url = f"{pose.url}/v1/pose/detect"
    for status, kwargs in [
        (400, {"files": {"image": ("a.jpg", b"not an image")}}),
        (400, {"files": {"image": ("a.jpg", astronaut[:1000])}}),
        (400, {"files": {"image": ("a.jpg", astronaut)}, "data": {"iou_threshold": "-1"}}),
        (400, {"files": {"image": ("a.jpg", astronaut)}, "data": {"bogus": "1"}}),
        (404, {"files": {"image": ("a.jpg", astronaut)}, "data": {"model": "yolov99_pose"}}),
        (415, {"content": b"GIF89a", "headers": {"content-type": "video/mp4"}}),
    ]:
        r = httpx.post(url, **kwargs)
        assert r.status_code == status, (kwargs.get("data"), r.text[:300])
        assert r.json()["error"]["message"]


def test_without_weights_it_is_honestly_not_ready(tmp_path, astronaut):
    svc = start_service("hailo-pose", tmp_path, wait_ready=False)
    try:
        r = httpx.get(f"{svc.url}/health/ready")
        assert r.status_code == 503
        reason = r.json()["reason"]
        assert "yolov8s-pose.onnx" in reason and "hailo-services pull hailo-pose yolov8s_pose" in reason
        r = httpx.post(f"{svc.url}/v1/pose/detect", files={"image": ("a.jpg", astronaut)})
        assert r.status_code == 503 and "Retry-After" in r.headers and "yolov8s-pose.onnx" in r.text
    finally:
        stop_service(svc)

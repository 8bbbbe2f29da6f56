"""hailo-depth over real HTTP (``hailo-services run hailo-depth --engine cpu``) on the tiny networks of
tests/services/depth/provision.py, whose answer is known per pixel: scdepthv3's logit is the
normalised grey level ((v - 114.75) / 57.375), so a bright square on a dark ground is nearer, with
relative_inverse_depth = 10 * sigmoid(logit) + 0.009 exactly; fast_depth gives 5 - 4 * v / 255 metres."""

from __future__ import annotations

import base64
import io
import threading
from collections.abc import Iterator
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest
from PIL import Image
from skimage import data

from harness import Service, jpeg, start_service, stop_service

PROVISION = Path(__file__).resolve().parents[1] / "provision.py"
DARK, BRIGHT = 30, 240


def _provision(workdir: Path) -> dict:
    import importlib.util

    spec = importlib.util.spec_from_file_location("depth_provision", PROVISION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.provision(workdir)


def inverse_depth(v: float) -> float:
    return float(10 / (1 + np.exp(-(v - 114.75) / 57.375)) + 0.009)


@pytest.fixture(scope="module")
def depth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    workdir = tmp_path_factory.mktemp("depth")
    svc = start_service("hailo-depth", workdir, _provision(workdir))
    yield svc
    stop_service(svc)


@pytest.fixture(scope="module")
def scene() -> bytes:
    """640x480: a bright square (an object in front) on a dark wall, as PNG (exact pixel values)."""
    rgb = np.full((480, 640, 3), DARK, np.uint8)
    rgb[160:320, 240:400] = BRIGHT
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


def post(svc: Service, image: bytes, **data) -> httpx.Response:
    return httpx.post(f"{svc.url}/v1/depth/estimate", files={"image": ("scene.png", image)}, data=data, timeout=60)


def test_stats_say_what_the_numbers_are(depth, scene):
    r = post(depth, scene)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"] == "scdepthv3" and body["model_type"] == "monocular"
    assert body["quantity"] == "relative_inverse_depth" and body["nearer"] == "higher" and body["units"] is None
    assert "up to an unknown scale" in body["description"]
    assert body["input_shape"] == [480, 640, 3] and body["depth_shape"] == [480, 640]
    assert body["network_input_size"] == [256, 320] and body["normalized"] is False
    s = body["stats"]
    assert s["min"] == pytest.approx(inverse_depth(DARK), rel=1e-4)
    assert s["max"] == pytest.approx(inverse_depth(BRIGHT), rel=1e-4)
    assert s["min"] <= s["p5"] <= s["mean"] <= s["p95"] <= s["max"]
    assert s["p5"] == pytest.approx(s["min"], rel=1e-4)  # 1/12 of the picture is the square
    assert body["inference_ms"] > 0 and body["inference_time_ms"] == body["inference_ms"]
    assert "relative_inverse_depth" not in body and "image" not in body  # stats only by default


def test_npy_is_the_float32_map_and_the_object_is_nearer(depth, scene):
    body = post(depth, scene, output="npy").json()
    values = np.load(io.BytesIO(base64.b64decode(body["relative_inverse_depth"])))
    assert values.shape == (480, 640) and values.dtype == np.float32
    assert values[200:280, 280:360].min() > values[:120].max()
    assert values[240, 320] == pytest.approx(inverse_depth(BRIGHT), rel=1e-4)
    assert values[10, 10] == pytest.approx(inverse_depth(DARK), rel=1e-4)


def test_normalize_gives_0_to_1(depth, scene):
    body = post(depth, scene, output="npy", normalize="true").json()
    values = np.load(io.BytesIO(base64.b64decode(body["relative_inverse_depth"])))
    assert body["normalized"] is True and body["units"] is None
    assert body["stats"]["min"] == 0.0 and body["stats"]["max"] == 1.0
    assert values[240, 320] == pytest.approx(1.0) and values[10, 10] == pytest.approx(0.0)


def test_png16_recovers_the_values(depth, scene):
    body = post(depth, scene, output="png16").json()
    grey = cv2.imdecode(np.frombuffer(base64.b64decode(body["image"]), np.uint8), cv2.IMREAD_UNCHANGED)
    assert grey.dtype == np.uint16 and grey.shape == (480, 640)
    lo, hi = body["stats"]["min"], body["stats"]["max"]
    assert lo + (hi - lo) * grey[240, 320] / 65535 == pytest.approx(inverse_depth(BRIGHT), rel=1e-4)
    assert grey[10, 10] == 0


@pytest.mark.parametrize("colormap", ["viridis", "plasma", "magma", "turbo"])
def test_colour_map_in_json_and_as_the_answer_itself(depth, scene, colormap):
    body = post(depth, scene, output="colormap", colormap=colormap).json()
    rgb = np.array(Image.open(io.BytesIO(base64.b64decode(body["image"]))))
    ends = cv2.applyColorMap(np.array([[0, 255]], np.uint8), getattr(cv2, f"COLORMAP_{colormap.upper()}"))[0, :, ::-1]
    assert rgb.shape == (480, 640, 3)
    np.testing.assert_array_equal(rgb[240, 320], ends[1])  # nearest: the bright end
    np.testing.assert_array_equal(rgb[10, 10], ends[0])
    r = httpx.post(
        f"{depth.url}/v1/depth/estimate",
        params={"colormap": colormap},
        content=scene,
        headers={"content-type": "image/png", "accept": "image/png"},
    )
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    np.testing.assert_array_equal(np.array(Image.open(io.BytesIO(r.content))), rgb)


def test_annotate_query_flag_returns_the_picture(depth):
    photo = jpeg(data.astronaut())
    r = httpx.post(f"{depth.url}/v1/depth/estimate?annotate=true", files={"image": ("a.jpg", photo)}, timeout=60)
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(r.content)).size == (512, 512)


def test_the_seeds_fields_and_keys_keep_working(depth, scene):
    b64 = base64.b64encode(scene).decode()
    r = httpx.post(
        f"{depth.url}/v1/depth/estimate",
        json={"image": b64, "output_format": "both", "normalize": True, "colormap": "jet"},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    values = np.load(io.BytesIO(base64.b64decode(body["depth_map"])))["depth"]  # the seed's NPZ key
    assert values.shape == (480, 640) and values.max() == pytest.approx(1.0) and values.min() == pytest.approx(0.0)
    assert Image.open(io.BytesIO(base64.b64decode(body["depth_image"]))).size == (640, 480)
    assert body["normalized"] is True and body["depth_shape"] == [480, 640] and "inference_time_ms" in body
    body = post(depth, scene, output_format="depth_png_16").json()
    grey = cv2.imdecode(np.frombuffer(base64.b64decode(body["depth_png_16"]), np.uint8), cv2.IMREAD_UNCHANGED)
    assert grey.dtype == np.uint16 and grey[240, 320] == 65535
    body = post(depth, scene, output_format="numpy").json()
    assert "depth_map" in body and "depth_image" not in body


def test_fast_depth_gives_metres(depth, scene):
    body = post(depth, scene, model="fast_depth", output="npy").json()
    assert body["model"] == "fast_depth" and body["quantity"] == "depth" and body["units"] == "m"
    assert body["nearer"] == "lower" and body["network_input_size"] == [224, 224]
    values = np.load(io.BytesIO(base64.b64decode(body["depth"])))
    assert values[240, 320] == pytest.approx(5 - 4 * BRIGHT / 255, abs=1e-3)
    assert values[10, 10] == pytest.approx(5 - 4 * DARK / 255, abs=1e-3)
    # The colour map still shows the nearer square bright.
    r = httpx.post(
        f"{depth.url}/v1/depth/estimate",
        files={"image": ("scene.png", scene)},
        data={"model": "fast_depth"},
        headers={"accept": "image/png"},
        timeout=60,
    )
    rgb = np.array(Image.open(io.BytesIO(r.content)))
    bright_end = cv2.applyColorMap(np.array([[255]], np.uint8), cv2.COLORMAP_VIRIDIS)[0, 0, ::-1]
    np.testing.assert_array_equal(rgb[240, 320], bright_end)


def test_bad_input_is_4xx_in_the_openai_shape(depth, scene):
    url = f"{depth.url}/v1/depth/estimate"
    for status, kwargs in [
        (400, {"files": {"image": ("a.png", b"not an image")}}),
        (400, {"files": {"image": ("a.png", scene[:200])}}),
        (400, {"files": {"image": ("a.png", scene)}, "data": {"output": "exr"}}),
        (400, {"files": {"image": ("a.png", scene)}, "data": {"colormap": "rainbow"}}),
        (400, {"files": {"image": ("a.png", scene)}, "data": {"output_format": "tiff"}}),
        (400, {"files": {"image": ("a.png", scene)}, "data": {"bogus": "1"}}),
        (400, {"json": {"image": "%%%not base64%%%"}}),
        (404, {"files": {"image": ("a.png", scene)}, "data": {"model": "midas_v3"}}),
        (415, {"content": b"GIF89a", "headers": {"content-type": "video/mp4"}}),
    ]:
        r = httpx.post(url, timeout=30, **kwargs)
        assert r.status_code == status, (kwargs.get("data"), r.text[:300])
        assert r.json()["error"]["message"]


def test_16_concurrent_requests_get_200_or_503_with_retry_after(tmp_path: Path):
    config = {**_provision(tmp_path), "queue_max_waiting": 2, "threads": 1}
    svc = start_service("hailo-depth", tmp_path, config)
    photo = jpeg(np.asarray(Image.fromarray(data.astronaut()).resize((2048, 2048))))
    results: list[httpx.Response] = []
    lock = threading.Lock()
    start = threading.Barrier(16)

    def one() -> None:
        start.wait()
        r = httpx.post(
            f"{svc.url}/v1/depth/estimate", files={"image": ("a.jpg", photo)}, data={"output": "npy"}, timeout=120
        )
        with lock:
            results.append(r)

    try:
        threads = [threading.Thread(target=one) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        stop_service(svc)
    statuses = sorted(r.status_code for r in results)
    assert len(results) == 16 and set(statuses) <= {200, 503}, statuses
    assert statuses.count(200) >= 1, statuses
    for r in results:
        if r.status_code == 503:
            assert int(r.headers["Retry-After"]) >= 1 and r.json()["error"]["message"]
        else:
            assert r.json()["depth_shape"] == [2048, 2048]


def test_without_weights_it_is_honestly_not_ready(tmp_path, scene):
    svc = start_service("hailo-depth", tmp_path, wait_ready=False)
    try:
        r = httpx.get(f"{svc.url}/health/ready")
        assert r.status_code == 503
        reason = r.json()["reason"]
        assert "scdepthv3.zip" in reason and "hailo-services pull hailo-depth scdepthv3 --allow-unpinned" in reason
        assert "hailo-model-zoo.s3.eu-west-2.amazonaws.com/DepthEstimation/indoor/scdepthv3" in reason
        r = post(svc, scene)
        assert r.status_code == 503 and "Retry-After" in r.headers and "scdepthv3.zip" in r.text
    finally:
        stop_service(svc)

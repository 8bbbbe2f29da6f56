"""depth.processing on hand-made tensors whose answer is known: the model zoo's post-processing
(scdepthv3: 10 * sigmoid(x) + 0.009 as inverse depth; fast_depth: the depth as is), the layouts the
runtimes hand back, the map back at the source size, and what the API makes of it."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from hailo_services.depth import processing
from hailo_services.depth.processing import QUANTITIES


def sigmoid(x):
    return 1 / (1 + np.exp(-np.asarray(x, np.float64)))


def test_scdepthv3_is_the_zoos_disparity_and_its_inverse_the_zoos_depth():
    logits = np.array([[-3.0, 0.0], [1.5, 4.0]], np.float32)
    inv = processing.postprocess(logits, "scdepthv3")
    np.testing.assert_allclose(inv, 10 * sigmoid(logits) + 0.009, rtol=1e-6)
    assert inv[0, 1] == pytest.approx(5.009)
    # 1 / value is the zoo's scdepthv3_postprocessing depth: 1 / (10 sigmoid(x) + 0.009).
    np.testing.assert_allclose(1 / inv, 1 / (10 * sigmoid(logits) + 0.009), rtol=1e-6)
    # Bounded by the sigmoid, finite for any logit.
    extreme = processing.postprocess(np.array([[-1e4, 1e4]], np.float32), "scdepthv3")
    np.testing.assert_allclose(extreme, [[0.009, 10.009]], rtol=1e-6)


def test_fast_depth_is_the_output_itself():
    raw = np.array([[0.7, 2.5], [4.0, 9.75]], np.float32)
    np.testing.assert_array_equal(processing.postprocess(raw, "fast_depth"), raw)


@pytest.mark.parametrize(
    "layout", [(1, 1, 4, 6), (1, 4, 6, 1), (4, 6, 1), (1, 4, 6), (4, 6)], ids=["NCHW", "NHWC", "HWC", "NHW", "HW"]
)
def test_every_layout_the_runtimes_give_is_the_same_map(layout):
    grid = np.arange(24, dtype=np.float32).reshape(4, 6)
    np.testing.assert_array_equal(processing.as_map(grid.reshape(layout)), grid)


@pytest.mark.parametrize("shape", [(1, 2, 4, 6), (1, 4, 6, 3), (8,), (1, 0, 6)])
def test_an_output_with_more_than_one_channel_is_refused(shape):
    with pytest.raises(ValueError, match="one output channel"):
        processing.as_map(np.zeros(shape, np.float32))


def test_a_ramp_stays_a_ramp_through_the_post_processing_and_the_resize():
    # Logits rising left to right (a wall receding to the left): the inverse depth rises with them,
    # strictly, at the network size and after the stretch back to a larger source.
    logits = np.tile(np.linspace(-4, 4, 320, dtype=np.float32), (256, 1))
    inv = processing.postprocess(logits, "scdepthv3")
    assert (np.diff(inv, axis=1) > 0).all() and np.allclose(np.diff(inv, axis=0), 0)
    big = processing.to_source(inv, 480, 640)
    assert big.shape == (480, 640)
    assert (np.diff(big[:, 1:-1], axis=1) > 0).all()
    assert big[:, 0].min() == pytest.approx(inv[0, 0], rel=1e-5) and big[:, -1].max() == pytest.approx(
        inv[0, -1], rel=1e-5
    )


def test_a_near_object_stays_nearer():
    # A box of larger logits (an object in front) on a background of smaller ones.
    logits = np.full((256, 320), -1.0, np.float32)
    logits[100:160, 120:200] = 2.0
    inv = processing.to_source(processing.postprocess(logits, "scdepthv3"), 512, 640)
    inside, outside = inv[210:310, 250:390], np.concatenate([inv[:150].ravel(), inv[350:].ravel()])
    assert inside.min() > outside.max()
    # In colour-map terms (nearness: 1 = nearest) the object is the bright part, for both directions.
    q_inv, q_depth = QUANTITIES["scdepthv3"], QUANTITIES["fast_depth"]
    assert processing.nearness(inv, q_inv)[250, 300] == pytest.approx(1.0)
    metres = 1 / inv  # as a depth (smaller = nearer) the same scene must give the same nearness
    np.testing.assert_allclose(processing.nearness(metres, q_depth)[250, 300], 1.0)
    assert processing.nearness(metres, q_depth)[10, 10] == pytest.approx(0.0, abs=1e-6)


def test_network_input_stretches_and_normalises_as_the_zoo():
    rgb = np.zeros((100, 50, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 0, 114, 255  # 114.75 - 0.75 -> (114 - 114.75) / 57.375
    img = processing.network_input(rgb, (256, 320))
    assert img.shape == (256, 320, 3) and img.dtype == np.uint8
    x = processing.to_nchw(img, (114.75,) * 3, (57.375,) * 3)
    assert x.shape == (1, 3, 256, 320) and x.dtype == np.float32 and x.flags.c_contiguous
    np.testing.assert_allclose(x[0, :, 0, 0], [(0 - 114.75) / 57.375, (114 - 114.75) / 57.375, (255 - 114.75) / 57.375])
    np.testing.assert_allclose(processing.to_nchw(img, (0.0,) * 3, (255.0,) * 3)[0, :, 5, 5], [0, 114 / 255, 1])


def test_stats_normalize_and_encodings_give_back_the_values():
    values = np.linspace(1.0, 3.0, 12 * 10, dtype=np.float32).reshape(12, 10)
    s = processing.stats(values)
    assert s["min"] == pytest.approx(1.0) and s["max"] == pytest.approx(3.0) and s["mean"] == pytest.approx(2.0)
    assert s["p5"] == pytest.approx(1.1, abs=1e-3) and s["p95"] == pytest.approx(2.9, abs=1e-3)
    n = processing.normalize(values)
    assert n.min() == 0.0 and n.max() == 1.0
    assert (processing.normalize(np.full((3, 3), 7.0, np.float32)) == 0).all()

    np.testing.assert_array_equal(np.load(io.BytesIO(processing.npy(values))), values)
    np.testing.assert_array_equal(np.load(io.BytesIO(processing.npz(values)))["depth"], values)
    grey = cv2.imdecode(np.frombuffer(processing.png16(values), np.uint8), cv2.IMREAD_UNCHANGED)
    assert grey.dtype == np.uint16 and grey.shape == values.shape
    np.testing.assert_allclose(s["min"] + (s["max"] - s["min"]) * grey / 65535.0, values, atol=1e-4)


@pytest.mark.parametrize("name", processing.COLORMAPS)
def test_colour_maps_put_the_nearest_at_the_bright_end(name):
    values = np.tile(np.linspace(0, 1, 64, dtype=np.float32), (8, 1))  # inverse depth: right = near
    rgb = processing.colorize(values, QUANTITIES["scdepthv3"], name)
    assert rgb.shape == (8, 64, 3) and rgb.dtype == np.uint8
    expected = cv2.applyColorMap(np.array([[0, 255]], np.uint8), getattr(cv2, f"COLORMAP_{name.upper()}"))[0, :, ::-1]
    np.testing.assert_array_equal(rgb[0, [0, -1]], expected)
    png = Image.open(io.BytesIO(processing.png_rgb(rgb)))
    assert png.size == (64, 8) and png.mode == "RGB"
    # A depth (smaller = nearer) of the same scene is coloured the same way round.
    np.testing.assert_array_equal(processing.colorize(1.0 + (1.0 - values), QUANTITIES["fast_depth"], name), rgb)


def test_an_unknown_colour_map_or_post_processing_is_refused():
    with pytest.raises(ValueError, match="colormap"):
        processing.colorize(np.zeros((2, 2), np.float32), QUANTITIES["scdepthv3"], "rainbow")
    with pytest.raises(ValueError, match="post-processing"):
        processing.postprocess(np.zeros((2, 2), np.float32), "midas")

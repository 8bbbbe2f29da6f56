"""The CPU engine on tiny networks with the zoo's layout, zipped as the zoo ships them
(tests/tiny_models.py: out = bias + scale * mean of the normalised channels), so every pixel's
answer is known: scdepthv3's logit is the normalised grey level, then 10 * sigmoid + 0.009."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import onnx
import pytest

from hailo_services.depth.cpu import DepthOnnxEngine
from hailo_services.depth.engine import DepthModelSpec, load_catalog
from tiny_models import DEPTH_TINY, depth_network, depth_zoo_zip


def spec_of(name: str) -> DepthModelSpec:
    spec = load_catalog().get(name)
    assert spec is not None
    return spec


def zoo_zip(tmp_path: Path, name: str) -> Path:
    spec = spec_of(name)
    return depth_zoo_zip(tmp_path / spec.artifact("cpu").file, spec.onnx_member, **DEPTH_TINY[name])


@pytest.fixture
def scdepth(tmp_path: Path):
    engine = DepthOnnxEngine(threads=1)
    engine.load(spec_of("scdepthv3"), [zoo_zip(tmp_path, "scdepthv3")])
    yield engine
    engine.unload()


def test_the_catalog_says_what_the_zoo_says():
    sc, fd = spec_of("scdepthv3"), spec_of("fast_depth")
    assert sc.input_size == (256, 320) and fd.input_size == (224, 224)
    assert sc.mean == (114.75,) * 3 and sc.std == (57.375,) * 3  # cfg/networks/scdepthv3.yaml
    assert fd.mean == (0.0,) * 3 and fd.std == (255.0,) * 3  # cfg/networks/fast_depth.yaml
    assert sc.quantity.name == "relative_inverse_depth" and fd.quantity.name == "depth"
    assert sc.artifact("hailo").file == "scdepthv3.hef" and fd.artifact("hailo").file == "fast_depth.hef"


def test_a_uniform_grey_image_gives_the_known_inverse_depth_everywhere(scdepth):
    dm = scdepth.estimate(np.full((120, 200, 3), 180, np.uint8))
    assert dm.values.shape == (120, 200) and dm.values.dtype == np.float32
    assert dm.network_size == (256, 320) and dm.quantity.name == "relative_inverse_depth"
    logit = (180 - 114.75) / 57.375
    np.testing.assert_allclose(dm.values, 10 / (1 + np.exp(-logit)) + 0.009, rtol=1e-5)


def test_a_bright_object_in_front_of_a_dark_wall_is_nearer(scdepth):
    rgb = np.full((480, 640, 3), 40, np.uint8)
    rgb[180:300, 260:420] = 230
    values = scdepth.estimate(rgb).values
    assert values.shape == (480, 640)
    assert values[200:280, 280:400].min() > values[:150].max()
    near, far = (10 / (1 + np.exp(-(v - 114.75) / 57.375)) + 0.009 for v in (230, 40))
    assert values[240, 340] == pytest.approx(near, rel=1e-5) and values[20, 20] == pytest.approx(far, rel=1e-5)


def test_a_horizontal_ramp_stays_a_ramp(scdepth):
    ramp = np.tile(np.linspace(0, 255, 640).astype(np.uint8)[None, :, None], (360, 1, 3))
    values = scdepth.estimate(ramp).values
    row = values[180]
    assert (np.diff(row[8:-8]) >= -1e-6).all() and row[-1] - row[0] > 5
    np.testing.assert_allclose(values[0], values[-1], rtol=1e-5)  # no vertical structure


def test_fast_depth_gives_metres(tmp_path: Path):
    engine = DepthOnnxEngine(threads=1)
    engine.load(spec_of("fast_depth"), [zoo_zip(tmp_path, "fast_depth")])
    try:
        rgb = np.zeros((300, 300, 3), np.uint8)
        rgb[:, 150:] = 255
        dm = engine.estimate(rgb)
    finally:
        engine.unload()
    assert dm.quantity.name == "depth" and dm.quantity.units == "m" and dm.network_size == (224, 224)
    assert dm.values[150, 20] == pytest.approx(5.0, abs=1e-4)  # dark: 5 - 4 * 0
    assert dm.values[150, 280] == pytest.approx(1.0, abs=1e-4)  # bright: 5 - 4 * 1


def test_the_onnx_is_read_from_the_zip_by_base_name_or_as_its_only_onnx(tmp_path: Path):
    model = depth_network((256, 320)).SerializeToString()
    nested = tmp_path / "nested.zip"
    with zipfile.ZipFile(nested, "w") as zf:
        zf.writestr("scdepthv3/README.txt", "hello")
        zf.writestr("scdepthv3/scdepthv3.onnx", model)
    plain = tmp_path / "plain.onnx"
    plain.write_bytes(model)
    for path, member in ((nested, "scdepthv3.onnx"), (nested, None), (plain, "ignored.onnx")):
        engine = DepthOnnxEngine(threads=1)
        engine.load(DepthModelSpec(name="x", onnx_member=member), [path])
        assert engine.estimate(np.zeros((8, 8, 3), np.uint8)).values.shape == (8, 8)
        engine.unload()


def test_a_zip_without_the_member_or_a_broken_zip_fails_the_load_naming_it(tmp_path: Path):
    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty, "w") as zf:
        zf.writestr("notes.txt", "no model here")
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04 not really")
    engine = DepthOnnxEngine(threads=1)
    with pytest.raises(RuntimeError, match=r"empty.zip does not hold 'scdepthv3.onnx'"):
        engine.load(spec_of("scdepthv3"), [empty])
    with pytest.raises(RuntimeError, match="cannot read the archive"):
        engine.load(spec_of("scdepthv3"), [broken])
    assert not engine.loaded


def test_a_network_with_another_output_is_refused_at_load(tmp_path: Path):
    model = depth_network((64, 64))
    model.graph.output[0].type.tensor_type.shape.dim[1].dim_value = 3  # claims 3 channels
    model.graph.node.append(onnx.helper.make_node("Concat", ["depth", "depth", "depth"], ["rgb"], axis=1))
    model.graph.output[0].name = "rgb"
    path = tmp_path / "three.onnx"
    onnx.save(model, path)
    engine = DepthOnnxEngine(threads=1)
    with pytest.raises(ValueError, match="one output channel"):
        engine.load(DepthModelSpec(name="x"), [path])
    assert not engine.loaded

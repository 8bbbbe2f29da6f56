"""core/onnx_infer.py against tiny graphs built here with onnx.helper, checked numerically."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from hailo_services.core.onnx_infer import OnnxModel

WEIGHTS = np.array([[1.0, 0.0, -1.0], [0.5, 0.5, 0.5]], np.float32).reshape(2, 3, 1, 1)
BIAS = np.array([0.25, -1.0], np.float32)


def save(graph: onnx.GraphProto, path: Path) -> Path:
    # Opset 17 / IR 8: what onnxruntime releases of the last years all load.
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


@pytest.fixture
def conv_model(tmp_path: Path) -> Path:
    """images [N,3,4,4] -> doubled NHWC [N,4,4,3] (Mul + Transpose) and a 1x1 Conv [N,2,4,4]."""
    graph = helper.make_graph(
        [
            helper.make_node("Mul", ["images", "two"], ["doubled"]),
            helper.make_node("Transpose", ["doubled"], ["nhwc"], perm=[0, 2, 3, 1]),
            helper.make_node("Conv", ["images", "W", "B"], ["conv"]),
        ],
        "tiny",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["N", 3, 4, 4])],
        [
            helper.make_tensor_value_info("nhwc", TensorProto.FLOAT, ["N", 4, 4, 3]),
            helper.make_tensor_value_info("conv", TensorProto.FLOAT, ["N", 2, 4, 4]),
        ],
        initializer=[
            numpy_helper.from_array(np.array(2.0, np.float32), "two"),
            numpy_helper.from_array(WEIGHTS, "W"),
            numpy_helper.from_array(BIAS, "B"),
        ],
    )
    return save(graph, tmp_path / "tiny.onnx")


@pytest.fixture
def uint8_model(tmp_path: Path) -> Path:
    """pixels uint8 [1,2,2,3] -> Cast to float / 255 (a normalising front end)."""
    graph = helper.make_graph(
        [
            helper.make_node("Cast", ["pixels"], ["f"], to=TensorProto.FLOAT),
            helper.make_node("Div", ["f", "s"], ["norm"]),
        ],
        "norm",
        [helper.make_tensor_value_info("pixels", TensorProto.UINT8, [1, 2, 2, 3])],
        [helper.make_tensor_value_info("norm", TensorProto.FLOAT, [1, 2, 2, 3])],
        initializer=[numpy_helper.from_array(np.array(255.0, np.float32), "s")],
    )
    return save(graph, tmp_path / "norm.onnx")


def test_describes_inputs_and_outputs(conv_model: Path):
    m = OnnxModel(conv_model)
    assert m.input_names == ["images"] and m.output_names == ["nhwc", "conv"]
    assert m.inputs == {"images": (("N", 3, 4, 4), np.dtype(np.float32))}
    assert m.outputs == {
        "nhwc": (("N", 4, 4, 3), np.dtype(np.float32)),
        "conv": (("N", 2, 4, 4), np.dtype(np.float32)),
    }


@pytest.mark.parametrize("threads", [None, 1, 2])
def test_runs_the_graph_numerically(conv_model: Path, threads: int | None):
    rng = np.random.default_rng(7)
    x = rng.normal(size=(2, 3, 4, 4)).astype(np.float32)
    out = OnnxModel(conv_model, threads=threads).run({"images": x})
    np.testing.assert_allclose(out["nhwc"], np.transpose(2 * x, (0, 2, 3, 1)), rtol=1e-6)
    expected = np.einsum("oc,nchw->nohw", WEIGHTS[:, :, 0, 0], x) + BIAS[None, :, None, None]
    np.testing.assert_allclose(out["conv"], expected, rtol=1e-5, atol=1e-6)
    # by hand for one pixel: channel 0 = x0 - x2 + 0.25, channel 1 = (x0 + x1 + x2) / 2 - 1
    p = x[1, :, 2, 3]
    assert out["conv"][1, 0, 2, 3] == pytest.approx(p[0] - p[2] + 0.25, abs=1e-5)
    assert out["conv"][1, 1, 2, 3] == pytest.approx(p.sum() / 2 - 1, abs=1e-5)


def test_uint8_input(uint8_model: Path):
    m = OnnxModel(uint8_model)
    assert m.inputs["pixels"] == ((1, 2, 2, 3), np.dtype(np.uint8))
    pixels = np.array([0, 51, 255] * 4, np.uint8).reshape(1, 2, 2, 3)
    out = m.run({"pixels": pixels})["norm"]
    np.testing.assert_allclose(out[0, 1, 1], [0.0, 0.2, 1.0], rtol=1e-6)


def test_feed_errors_are_clear(conv_model: Path):
    m = OnnxModel(conv_model)
    good = np.zeros((1, 3, 4, 4), np.float32)
    with pytest.raises(ValueError, match=r"missing \['images'\], unknown \['image'\]"):
        m.run({"image": good})
    with pytest.raises(ValueError, match=r"unknown \['extra'\]"):
        m.run({"images": good, "extra": good})
    with pytest.raises(ValueError, match="'images' must be float32, got float64"):
        m.run({"images": good.astype(np.float64)})
    with pytest.raises(ValueError, match=r"'images' must have shape \['N', 3, 4, 4\], got \[1, 3, 5, 5\]"):
        m.run({"images": np.zeros((1, 3, 5, 5), np.float32)})
    with pytest.raises(ValueError, match="shape"):
        m.run({"images": np.zeros((3, 4, 4), np.float32)})
    with pytest.raises(ValueError, match="numpy array"):
        m.run({"images": [[0.0]]})  # type: ignore[dict-item]
    assert m.run({"images": np.zeros((5, 3, 4, 4), np.float32)})["conv"].shape == (5, 2, 4, 4)  # dynamic N


def test_load_errors_name_the_path(tmp_path: Path):
    missing = tmp_path / "nope.onnx"
    with pytest.raises(RuntimeError, match=f"not found: {missing}"):
        OnnxModel(missing)
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\x00not a protobuf\xff" * 10)
    with pytest.raises(RuntimeError, match=f"cannot load ONNX model {garbage}"):
        OnnxModel(garbage)


def test_closed_model_refuses_to_run(conv_model: Path):
    with OnnxModel(conv_model) as m:
        m.run({"images": np.zeros((1, 3, 4, 4), np.float32)})
    with pytest.raises(RuntimeError, match="closed"):
        m.run({"images": np.zeros((1, 3, 4, 4), np.float32)})

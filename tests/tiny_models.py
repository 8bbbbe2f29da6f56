"""Tiny ONNX graphs with the real models' interfaces, for tests that cannot have the real weights.

``constant_graph`` builds a network with input ``images`` [1, 3, H, W] whose outputs are fixed tables
scaled by the image's brightest value (after the engine's /255), so any ordinary photo yields the
tables themselves: the decoded answer is known in advance.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def constant_graph(path: Path, outputs: dict[str, np.ndarray], size: tuple[int, int] = (640, 640)) -> Path:
    h, w = size
    images = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, h, w])
    nodes = [helper.make_node("ReduceMax", ["images"], ["peak"], keepdims=0)]
    inits, infos = [], []
    for i, (name, table) in enumerate(outputs.items()):
        nodes.append(helper.make_node("Mul", [f"table{i}", "peak"], [name]))
        inits.append(numpy_helper.from_array(table.astype(np.float32), f"table{i}"))
        infos.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(table.shape)))
    graph = helper.make_graph(nodes, "tiny", [images], infos, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, path)
    return path


def yolov8_pose_export(path: Path) -> Path:
    """The ultralytics YOLOv8-pose export's interface (``output0`` [1, 56, 8400]) with one person:
    box (240, 80)-(400, 560) in input pixels, score 0.88, and 17 keypoints at score 0.75."""
    out = np.zeros((1, 56, 8400), np.float32)
    j = np.arange(17, dtype=np.float32)
    kpts = np.stack([300 + 4 * j, 100 + 24 * j, np.full(17, 0.75)], axis=1)
    out[0, :5, 2000] = (320, 320, 160, 480, 0.88)
    out[0, 5:, 2000] = kpts.ravel()
    return constant_graph(path, {"output0": out})

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


def clip_image_encoder(path: Path, weights: np.ndarray) -> Path:
    """The transformers.js CLIP image encoder's interface (``pixel_values`` [N, 3, 224, 224] ->
    ``image_embeds`` [N, D]) as mean colour (per normalised channel) times ``weights`` (3 x D): the
    embedding of a flat-coloured image is known in advance."""
    pixels = helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, ["batch_size", 3, 224, 224])
    out = helper.make_tensor_value_info("image_embeds", TensorProto.FLOAT, ["batch_size", weights.shape[1]])
    nodes = [
        helper.make_node("ReduceMean", ["pixel_values"], ["colour"], axes=[2, 3], keepdims=0),
        helper.make_node("MatMul", ["colour", "w"], ["image_embeds"]),
    ]
    inits = [numpy_helper.from_array(weights.astype(np.float32), "w")]
    return _save(helper.make_graph(nodes, "tiny_clip_image", [pixels], [out], initializer=inits), path)


def clip_text_encoder(path: Path, rows: dict[int, np.ndarray], dim: int, vocab: int = 49408) -> Path:
    """The transformers.js CLIP text encoder's interface (``input_ids`` [N, L] int64 -> ``text_embeds``
    [N, D] and ``last_hidden_state`` [N, L, D]) as a bag of words: ``text_embeds`` is the sum of the
    given rows of the text's ids (every other id, padding included, has a zero row)."""
    ids = helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch_size", "sequence_length"])
    outs = [
        helper.make_tensor_value_info("text_embeds", TensorProto.FLOAT, ["batch_size", dim]),
        helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch_size", "sequence_length", dim]),
    ]
    # A full vocab x D table would be 100 MB: map each id to a row of a small table instead (0 = zeros).
    index = np.zeros(vocab, np.int64)
    table = np.zeros((len(rows) + 1, dim), np.float32)
    for k, (token, row) in enumerate(rows.items(), 1):
        index[token] = k
        table[k] = row
    nodes = [
        helper.make_node("Gather", ["index", "input_ids"], ["slots"], axis=0),
        helper.make_node("Gather", ["table", "slots"], ["last_hidden_state"], axis=0),
        helper.make_node("ReduceSum", ["last_hidden_state", "axis1"], ["text_embeds"], keepdims=0),
    ]
    inits = [
        numpy_helper.from_array(index, "index"),
        numpy_helper.from_array(table, "table"),
        numpy_helper.from_array(np.array([1], np.int64), "axis1"),
    ]
    return _save(helper.make_graph(nodes, "tiny_clip_text", [ids], outs, initializer=inits), path)


def _save(graph, path: Path) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, path)
    return path

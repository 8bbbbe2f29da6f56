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


# -- hailo-vision: a random vision projector (mmproj) for llama.cpp -------------------------------

# CLIP's image normalisation, as Qwen2-VL's mmproj carries it.
CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]


def tiny_mmproj(path: Path, *, n_embd_text: int = 576, width: int = 64, heads: int = 4, layers: int = 1) -> Path:
    """A randomly initialised Qwen2-VL vision encoder + merger (llama.cpp's ``qwen2vl_merger`` mmproj),
    with the keys and tensor names llama.cpp's mtmd requires (tools/mtmd/clip.cpp) and an output size of
    ``n_embd_text`` (576 = SmolLM2-135M's, so llama.cpp loads it beside the packaged GGUF). Its answers
    are meaningless but real: images go through the encoder into the language model's context.
    ~1.3 MB; a 336x336 frame is 144 image tokens, as with the real model."""
    import gguf

    rng = np.random.default_rng(0)

    def rnd(*shape: int) -> np.ndarray:  # numpy shape = ggml's ne reversed: Linear(in -> out) is (out, in)
        return (rng.standard_normal(shape) * 0.02).astype(np.float32)

    def ones(n: int) -> np.ndarray:
        return np.ones(n, dtype=np.float32)

    def zeros(n: int) -> np.ndarray:
        return np.zeros(n, dtype=np.float32)

    path.parent.mkdir(parents=True, exist_ok=True)
    w = gguf.GGUFWriter(str(path), arch="clip")
    w.add_string("clip.projector_type", "qwen2vl_merger")
    w.add_bool("clip.has_vision_encoder", True)
    for key, value in (
        ("image_size", 336),
        ("patch_size", 14),
        ("embedding_length", width),
        ("feed_forward_length", 2 * width),
        ("block_count", layers),
        ("projection_dim", n_embd_text),
        ("attention.head_count", heads),
        ("spatial_merge_size", 2),
    ):
        w.add_uint32(f"clip.vision.{key}", value)
    w.add_float32("clip.vision.attention.layer_norm_epsilon", 1e-6)
    w.add_array("clip.vision.image_mean", CLIP_MEAN)
    w.add_array("clip.vision.image_std", CLIP_STD)
    # Qwen2-VL's Conv3D patch embedding, as two 2-D halves (temporal patch 2); no bias, no class token.
    w.add_tensor("v.patch_embd.weight", rnd(width, 3, 14, 14))
    w.add_tensor("v.patch_embd.weight.1", rnd(width, 3, 14, 14))
    for i in range(layers):
        p = f"v.blk.{i}"
        for name in ("attn_q", "attn_k", "attn_v", "attn_out"):
            w.add_tensor(f"{p}.{name}.weight", rnd(width, width))
            w.add_tensor(f"{p}.{name}.bias", zeros(width))
        for name in ("ln1", "ln2"):
            w.add_tensor(f"{p}.{name}.weight", ones(width))
            w.add_tensor(f"{p}.{name}.bias", zeros(width))
        w.add_tensor(f"{p}.ffn_up.weight", rnd(2 * width, width))
        w.add_tensor(f"{p}.ffn_up.bias", zeros(2 * width))
        w.add_tensor(f"{p}.ffn_down.weight", rnd(width, 2 * width))
        w.add_tensor(f"{p}.ffn_down.bias", zeros(width))
    w.add_tensor("v.post_ln.weight", ones(width))
    w.add_tensor("v.post_ln.bias", zeros(width))
    # The 2x2 merger: 4 * width in, the language model's embedding out (mm.2.bias sets its size).
    w.add_tensor("mm.0.weight", rnd(4 * width, 4 * width))
    w.add_tensor("mm.0.bias", zeros(4 * width))
    w.add_tensor("mm.2.weight", rnd(n_embd_text, 4 * width))
    w.add_tensor("mm.2.bias", zeros(n_embd_text))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def depth_network(
    size: tuple[int, int] = (256, 320),
    *,
    scale: float = 1.0,
    bias: float = 0.0,
    names: tuple[str, str] = ("input", "depth"),
) -> onnx.ModelProto:
    """A one-input, one-output depth network with the zoo's layout: [1, 3, H, W] float32 in, [1, 1, H, W]
    float32 out, ``out = bias + scale * mean over the channels of the input`` (the normalised pixels).
    So the answer is known per pixel: with scale > 0 a brighter pixel gives a larger output (for
    scdepthv3, a larger logit = a larger inverse depth = nearer). The real files' tensor names are not
    published; the engines take the single input and output by position, whatever their names."""
    h, w = size
    inp = helper.make_tensor_value_info(names[0], TensorProto.FLOAT, [1, 3, h, w])
    out = helper.make_tensor_value_info(names[1], TensorProto.FLOAT, [1, 1, h, w])
    nodes = [
        helper.make_node("ReduceMean", [names[0]], ["grey"], axes=[1], keepdims=1),
        helper.make_node("Mul", ["grey", "scale"], ["scaled"]),
        helper.make_node("Add", ["scaled", "bias"], [names[1]]),
    ]
    inits = [
        numpy_helper.from_array(np.array(scale, np.float32), "scale"),
        numpy_helper.from_array(np.array(bias, np.float32), "bias"),
    ]
    graph = helper.make_graph(nodes, "tiny_depth", [inp], [out], initializer=inits)
    # opset 13: ReduceMean still takes `axes` as an attribute (18 moved it to an input).
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    onnx.checker.check_model(model)
    return model


def depth_zoo_zip(path: Path, member: str, size: tuple[int, int] = (256, 320), **kwargs) -> Path:
    """The tiny depth network as the Hailo model zoo ships its networks: ``member`` inside a zip archive
    (the zoo's "pretrained" zip; the CPU engine reads the ONNX from it)."""
    import zipfile

    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(member, depth_network(size, **kwargs).SerializeToString())
    return path


# The depth catalog's two networks as tiny stand-ins (tests/services/depth/provision.py places them):
# scdepthv3 ends at a logit (bright = larger logit = nearer); fast_depth gives metres, here
# 5 - 4 * grey on 0..1 pixels (bright = 1 m, dark = 5 m: also bright = nearer).
DEPTH_TINY = {
    "scdepthv3": {"size": (256, 320), "scale": 1.0, "bias": 0.0},
    "fast_depth": {"size": (224, 224), "scale": -4.0, "bias": 5.0},
}


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

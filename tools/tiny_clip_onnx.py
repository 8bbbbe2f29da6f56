#!/usr/bin/env python3
"""A stand-in for hailo-clip's CPU model (Molecule; tools/sandbox-deploy without internet access):
the transformers.js CLIP export's two encoders, tiny.

    tiny_clip_onnx.py IMAGE.onnx TEXT.onnx     writes both, each with a .sha256 beside it

Image encoder: `pixel_values` [N, 3, 224, 224] float32 -> `image_embeds` [N, 512] (the mean colour in
the first three dimensions). Text encoder: `input_ids` [N, L] int64 -> `text_embeds` [N, 512] (the mean
id in dimension 3, a constant in dimension 4). Real graphs that onnxruntime runs, with answers that mean
nothing; the real encoders (89 + 65 MB) stay out of CI. The role delivers them through its controller
cache (hailo_service_model_cache), checked against the digests pinned by hailo_clip_models_extra.
"""

import hashlib
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

DIM = 512


def _model(graph: onnx.GraphProto) -> onnx.ModelProto:
    opset = [helper.make_opsetid("", 13)]
    model = helper.make_model(graph, producer_name="hailo-services-molecule", opset_imports=opset)
    model.ir_version = 7
    onnx.checker.check_model(model)
    return model


def image_encoder() -> onnx.ModelProto:
    w = np.zeros((3, DIM), np.float32)
    w[0, 0] = w[1, 1] = w[2, 2] = 1.0
    return _model(
        helper.make_graph(
            [
                helper.make_node("ReduceMean", ["pixel_values"], ["colour"], axes=[2, 3], keepdims=0),
                helper.make_node("MatMul", ["colour", "w"], ["image_embeds"]),
            ],
            "tiny_clip_image",
            [helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, ["batch_size", 3, 224, 224])],
            [helper.make_tensor_value_info("image_embeds", TensorProto.FLOAT, ["batch_size", DIM])],
            initializer=[numpy_helper.from_array(w, "w")],
        )
    )


def text_encoder() -> onnx.ModelProto:
    w = np.zeros((2, DIM), np.float32)
    w[0, 3] = 1e-4
    w[1, 4] = 1.0
    return _model(
        helper.make_graph(
            [
                helper.make_node("Cast", ["input_ids"], ["ids"], to=TensorProto.FLOAT),
                helper.make_node("ReduceMean", ["ids"], ["mean"], axes=[1], keepdims=1),
                helper.make_node("Mul", ["mean", "zero"], ["nothing"]),
                helper.make_node("Add", ["nothing", "one"], ["ones"]),  # [N, 1] of 1, whatever N is
                helper.make_node("Concat", ["mean", "ones"], ["features"], axis=1),
                helper.make_node("MatMul", ["features", "w"], ["text_embeds"]),
            ],
            "tiny_clip_text",
            [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch_size", "sequence_length"])],
            [helper.make_tensor_value_info("text_embeds", TensorProto.FLOAT, ["batch_size", DIM])],
            initializer=[
                numpy_helper.from_array(w, "w"),
                numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
                numpy_helper.from_array(np.array(1.0, np.float32), "one"),
            ],
        )
    )


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    for out, model in zip(sys.argv[1:], (image_encoder(), text_encoder()), strict=True):
        data = model.SerializeToString()
        with open(out, "wb") as f:
            f.write(data)
        digest = hashlib.sha256(data).hexdigest()
        with open(out + ".sha256", "w") as f:
            f.write(digest + "\n")
        print(f"{out}: {len(data)} bytes, sha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

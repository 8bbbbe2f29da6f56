#!/usr/bin/env python3
"""A stand-in for hailo-pose's CPU model (Molecule; tools/sandbox-deploy without internet access):
the real YOLOv8-pose export layout, tiny.

    tiny_pose_onnx.py OUT.onnx      writes OUT.onnx and OUT.onnx.sha256

Input `images` [1, 3, 640, 640] float32, output `output0` [1, 56, 8400] float32: zeros that still
depend on the input (a mean times 0), so onnxruntime runs a real graph and the decoder finds nobody.
The real weights (44 MB) stay out of CI; the role delivers this file through its controller cache
(hailo_service_model_cache) and checks it against the digest pinned by hailo_pose_models_extra.
"""

import hashlib
import sys

import onnx
from onnx import TensorProto, helper


def build() -> onnx.ModelProto:
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["per_channel"], axes=[2, 3], keepdims=0),  # [1, 3]
        helper.make_node("ReduceMean", ["per_channel"], ["mean"], axes=[1], keepdims=1),  # [1, 1]
        helper.make_node("Mul", ["mean", "zero"], ["nothing"]),
        helper.make_node(
            "ConstantOfShape",
            ["shape"],
            ["zeros"],
            value=helper.make_tensor("value", TensorProto.FLOAT, [1], [0.0]),
        ),
        helper.make_node("Add", ["zeros", "nothing"], ["output0"]),  # [1, 56, 8400]
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_yolov8_pose",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 640, 640])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 56, 8400])],
        initializer=[
            helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]),
            helper.make_tensor("shape", TensorProto.INT64, [3], [1, 56, 8400]),
        ],
    )
    model = helper.make_model(
        graph, producer_name="hailo-services-molecule", opset_imports=[helper.make_opsetid("", 13)]
    )
    model.ir_version = 7
    onnx.checker.check_model(model)
    return model


def main() -> int:
    out = sys.argv[1]
    data = build().SerializeToString()
    with open(out, "wb") as f:
        f.write(data)
    digest = hashlib.sha256(data).hexdigest()
    with open(out + ".sha256", "w") as f:
        f.write(digest + "\n")
    print(f"{out}: {len(data)} bytes, sha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

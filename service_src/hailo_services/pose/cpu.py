"""hailo-pose's CPU engine: a YOLOv8-pose ONNX through onnxruntime (imported when a model loads).

The decoder follows the file: one output [1, 5 + 3K, N] is the ultralytics export (decoded in the
graph); 3 outputs per stride (box, score, keypoints; NHWC or NCHW) is the raw head, which goes
through the very decoder the Hailo engine uses, so such a model tests the NPU path's maths on CPU.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..core import yolo
from ..core.geometry import check_rgb
from . import processing
from .engine import Person, PoseEngine, PoseModelSpec, PoseParams


class YoloPoseOnnxEngine(PoseEngine):
    """Input ``images`` [1, 3, H, W] float32 RGB 0..1 of the letterboxed image (pad 114)."""

    kind = "cpu"

    def __init__(self, threads: int | None = None):
        self._threads = threads
        self._model: Any = None
        self._spec: PoseModelSpec | None = None
        self._input_name = ""
        self._input_hw = (640, 640)
        self.raw_head = False  # which decoder this model uses (tests and logs read it)

    def load(self, spec: PoseModelSpec, paths: list[Path]) -> None:
        from ..core.onnx_infer import OnnxModel

        self.unload()
        model = OnnxModel(paths[0], threads=self._threads)
        try:
            if len(model.input_names) != 1:
                raise ValueError(f"{paths[0].name}: expected one input, got {list(model.input_names)}")
            self._input_name = model.input_names[0]
            self._input_hw = yolo.nchw_input_hw(model.inputs[self._input_name][0], spec.input_size)
            n_out = len(model.output_names)
            if n_out == 1:
                self.raw_head = False
                shape = list(model.outputs[model.output_names[0]][0])
                channels = 5 + 3 * spec.num_keypoints
                if not yolo.may_have_channels(shape, channels):
                    raise ValueError(f"{paths[0].name}: output {shape} is not [1, {channels}, N]")
            elif n_out == 3 * len(spec.strides):
                self.raw_head = True
                # Shapes may be symbolic in the file; when they are static, reject a wrong head now
                # rather than on the first request.
                shapes = [model.outputs[n][0] for n in model.output_names]
                if all(isinstance(d, int) for s in shapes for d in s):
                    processing.split_raw_heads(
                        [np.empty(s, np.float32) for s in shapes],
                        self._input_hw,
                        spec.strides,
                        spec.reg_bins,
                        spec.num_keypoints,
                    )
            else:
                raise ValueError(
                    f"{paths[0].name}: {n_out} outputs; expected 1 (ultralytics export) "
                    f"or {3 * len(spec.strides)} (raw head: box, score, keypoints per stride)"
                )
        except Exception:
            model.close()
            raise
        self._model, self._spec = model, spec

    def detect(self, rgb: np.ndarray, params: PoseParams) -> list[Person]:
        from ..core.geometry import letterbox

        check_rgb(rgb)
        model, spec = self.held()
        img, box = letterbox(rgb, self._input_hw)
        x = yolo.to_nchw_float(img)
        outputs = model.run({self._input_name: x})
        if self.raw_head:
            levels = processing.split_raw_heads(
                outputs, self._input_hw, spec.strides, spec.reg_bins, spec.num_keypoints
            )
            cands = processing.decode_raw_heads(
                levels, spec.reg_bins, spec.num_keypoints, params.confidence, spec.score_logits
            )
        else:
            (out,) = outputs.values()
            cands = processing.decode_export(out, spec.num_keypoints, params.confidence)
        return processing.to_persons(cands, box, rgb.shape[:2], params)


def make_cpu_engine(spec: PoseModelSpec, threads: int | None = None) -> PoseEngine:
    """The CPU engine for ``spec`` (one kind today; the decoder is chosen from the file at load)."""
    return YoloPoseOnnxEngine(threads)

"""hailo-depth's CPU engine: the zoo's ONNX of the network (read from its zip) through onnxruntime.

Input [1, 3, H, W] float32 RGB normalised with the catalog's mean/std (the HEF does that on-chip);
one output with one channel, the same tensor the HEF ends at, so processing.postprocess serves both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..core import yolo
from ..core.geometry import check_rgb
from . import processing
from .engine import DepthEngine, DepthMap, DepthModelSpec


class DepthOnnxEngine(DepthEngine):
    kind = "cpu"

    def __init__(self, threads: int | None = None):
        self._threads = threads
        self._model: Any = None
        self._spec: DepthModelSpec | None = None
        self._input_name = ""
        self._input_hw = (256, 320)

    def load(self, spec: DepthModelSpec, paths: list[Path]) -> None:
        from ..core.onnx_infer import OnnxModel

        self.unload()
        model = OnnxModel(paths[0], threads=self._threads, member=spec.onnx_member)
        try:
            if len(model.input_names) != 1 or len(model.output_names) != 1:
                raise ValueError(
                    f"{paths[0].name}: a depth network has one input and one output, got "
                    f"{list(model.input_names)} -> {list(model.output_names)}"
                )
            self._input_name = model.input_names[0]
            shape, dtype = model.inputs[self._input_name]
            if dtype != np.float32:
                raise ValueError(f"{paths[0].name}: input {self._input_name!r} is {dtype}, expected float32")
            self._input_hw = yolo.nchw_input_hw(shape, spec.input_size)
            out_shape = model.outputs[model.output_names[0]][0]
            if all(isinstance(d, int) for d in out_shape):  # static: reject a wrong head now, not per request
                processing.as_map(np.empty(out_shape, np.float32))
        except Exception:
            model.close()
            raise
        self._model, self._spec = model, spec

    def estimate(self, rgb: np.ndarray) -> DepthMap:
        check_rgb(rgb)
        model, spec = self.held()
        x = processing.to_nchw(processing.network_input(rgb, self._input_hw), spec.mean, spec.std)
        (raw,) = model.run({self._input_name: x}).values()
        values = processing.postprocess(raw, spec.output)
        return DepthMap(processing.to_source(values, *rgb.shape[:2]), spec.quantity, self._input_hw)

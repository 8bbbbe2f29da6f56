"""hailo-depth's NPU engine: scdepthv3.hef / fast_depth.hef through core.hailo_infer (HailoRT imported
at load).

The HEF takes the resized image as uint8 NHWC RGB (the normalisation is a layer on the chip) and ends
at the last convolution: one H x W x 1 output, 16-bit on the chip, which HailoRT de-quantises to
float32. processing.postprocess then applies the model zoo's post-processing, as for the ONNX.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..core.geometry import check_rgb
from . import processing
from .engine import DepthEngine, DepthMap, DepthModelSpec


class HailoDepthEngine(DepthEngine):
    kind = "hailo"

    def __init__(self, group_id: str = "SHARED", *, timeout_ms: int = 10_000):
        self._group_id = group_id
        self._timeout_ms = timeout_ms
        self._model: Any = None
        self._spec: DepthModelSpec | None = None
        self._input_hw = (256, 320)

    def load(self, spec: DepthModelSpec, paths: list[Path]) -> None:
        from ..core.hailo_infer import HailoModel

        self.unload()
        model = HailoModel(
            paths[0],
            group_id=self._group_id,
            batch_size=1,
            output_format="float32",
            nms=None,
            timeout_ms=self._timeout_ms,
        )
        try:
            h, w, c = model.input_shape
            if c != 3:
                raise ValueError(f"{paths[0].name}: input {model.input_shape} is not RGB")
            if len(model.output_names) != 1:
                raise ValueError(f"{paths[0].name}: a depth HEF has one output, got {model.output_names}")
            processing.as_map(np.empty(model.output_shapes[model.output_names[0]], np.float32))
        except Exception:
            model.close()
            raise
        self._model, self._spec, self._input_hw = model, spec, (int(h), int(w))

    def estimate(self, rgb: np.ndarray) -> DepthMap:
        check_rgb(rgb)
        model, spec = self.held()
        img = processing.network_input(rgb, self._input_hw)
        (outputs,) = model.run([np.ascontiguousarray(img, dtype=np.uint8)])
        (raw,) = outputs.values()
        values = processing.postprocess(raw, spec.output)
        return DepthMap(processing.to_source(values, *rgb.shape[:2]), spec.quantity, self._input_hw)

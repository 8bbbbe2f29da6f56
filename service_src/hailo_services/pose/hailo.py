"""hailo-pose's NPU engine: a YOLOv8-pose HEF through core.hailo_infer (HailoRT imported at load).

The HEF takes the letterboxed image as uint8 NHWC RGB and ends at the raw head: nine outputs
(box DFL, person score, keypoints at strides 8, 16, 32), which HailoRT de-quantises to float32 and
processing.decode_raw_heads decodes on the host, as hailo-apps does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..core.geometry import check_rgb
from . import processing
from .engine import Person, PoseEngine, PoseModelSpec, PoseParams


class HailoPoseEngine(PoseEngine):
    kind = "hailo"

    def __init__(self, group_id: str = "SHARED", *, timeout_ms: int = 10_000):
        self._group_id = group_id
        self._timeout_ms = timeout_ms
        self._model: Any = None
        self._spec: PoseModelSpec | None = None
        self._input_hw = (640, 640)

    def load(self, spec: PoseModelSpec, paths: list[Path]) -> None:
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
            input_hw = (int(h), int(w))
            # Check the HEF's head now (a wrong HEF fails the load, not every request).
            processing.split_raw_heads(
                [np.empty(model.output_shapes[n], np.float32) for n in model.output_names],
                input_hw,
                spec.strides,
                spec.reg_bins,
                spec.num_keypoints,
            )
        except Exception:
            model.close()
            raise
        self._model, self._spec, self._input_hw = model, spec, input_hw

    def detect(self, rgb: np.ndarray, params: PoseParams) -> list[Person]:
        from ..core.geometry import letterbox

        check_rgb(rgb)
        model, spec = self.held()
        img, box = letterbox(rgb, self._input_hw)
        (outputs,) = model.run([np.ascontiguousarray(img, dtype=np.uint8)])
        levels = processing.split_raw_heads(outputs, self._input_hw, spec.strides, spec.reg_bins, spec.num_keypoints)
        cands = processing.decode_raw_heads(
            levels, spec.reg_bins, spec.num_keypoints, params.confidence, spec.score_logits
        )
        return processing.to_persons(cands, box, rgb.shape[:2], params)

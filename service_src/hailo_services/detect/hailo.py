"""hailo-detect's NPU engine: a YOLOv8 HEF ending in HailoRT's on-chip NMS, run through
core.hailo_infer (InferModel on the process's shared VDevice; HailoRT imported when a model loads).

The HEF takes the letterboxed image as uint8 NHWC RGB and returns, per class, boxes normalised to
that input; processing.hailo_nms_to_detections maps them back to the source image.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..core.geometry import check_rgb
from . import processing
from .engine import DetectEngine, Detection, DetectModelSpec, DetectParams
from .labels import labels_for

# The NMS thresholds are fixed when the HEF is configured (at load), while a request's
# confidence and IoU vary. The on-chip NMS therefore keeps everything a request could want
# (scores from a low floor, overlaps up to a lenient IoU) and processing.finish applies the
# request's thresholds on the host, on at most classes x proposals boxes.
NMS_SCORE_FLOOR = 0.1
NMS_IOU = 0.7
NMS_MAX_PROPOSALS_PER_CLASS = 100


class HailoDetectEngine(DetectEngine):
    kind = "hailo"

    def __init__(self, group_id: str = "SHARED", *, timeout_ms: int = 10_000):
        self._group_id = group_id
        self._timeout_ms = timeout_ms
        self._model: Any = None
        self._spec: DetectModelSpec | None = None
        self._input_hw = (640, 640)
        self._nms_output = ""
        self._labels: tuple[str, ...] = ()

    def load(self, spec: DetectModelSpec, paths: list[Path]) -> None:
        from ..core.hailo_infer import HailoModel, NmsSettings

        if spec.hailo_layout != "hailo_nms":
            raise ValueError(f"model {spec.name!r}: the Hailo engine needs a HEF with on-chip NMS")
        self.unload()
        labels = labels_for(spec.labels)
        model = HailoModel(
            paths[0],
            group_id=self._group_id,
            batch_size=1,
            output_format="float32",
            nms=NmsSettings(
                score_threshold=NMS_SCORE_FLOOR,
                iou_threshold=NMS_IOU,
                max_proposals_per_class=NMS_MAX_PROPOSALS_PER_CLASS,
            ),
            timeout_ms=self._timeout_ms,
        )
        try:
            if len(model.output_names) != 1 or model.nms_outputs != model.output_names:
                raise ValueError(
                    f"{paths[0].name}: expected one NMS output, got {list(model.output_names)} "
                    f"(NMS: {list(model.nms_outputs)}); a HEF without HailoRT's NMS needs another decoder"
                )
            h, w, c = model.input_shape
            if c != 3:
                raise ValueError(f"{paths[0].name}: input {model.input_shape} is not RGB")
        except Exception:
            model.close()
            raise
        self._model, self._spec, self._labels = model, spec, labels
        self._input_hw = (int(h), int(w))
        self._nms_output = model.output_names[0]

    def detect(self, rgb: np.ndarray, params: DetectParams) -> list[Detection]:
        from ..core.geometry import letterbox
        from ..core.hailo_infer import parse_nms_by_class

        check_rgb(rgb)
        model, _ = self.held()
        img, box = letterbox(rgb, self._input_hw)
        (result,) = model.run([np.ascontiguousarray(img, dtype=np.uint8)])
        boxes = parse_nms_by_class(result[self._nms_output], len(self._labels))
        return processing.hailo_nms_to_detections(boxes, self._input_hw, box, rgb.shape[:2], params, self._labels)

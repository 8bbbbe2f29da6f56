"""hailo-detect's pre- and post-processing, shared by the CPU and Hailo engines.

Three output layouts end in the same place (``finish``: class filter, class-aware NMS, best
first, ``max_detections``, source-pixel boxes):

- ``yolov8``: the ultralytics ONNX export, one tensor [1, 4 + C, N]: per anchor cx, cy, w, h in
  input (letterboxed) pixels, then C class scores already through the sigmoid. Decoded as
  ultralytics' ``non_max_suppression`` does with ``multi_label=False``: each anchor's best class is
  its candidate, scores above the confidence survive, NMS is per class.
- ``ssd_tf``: a TF Object Detection API graph run by OpenCV DNN, [1, 1, N, 7] rows of
  (image_id, class_id 1..90, score, x1, y1, x2, y2) normalised to the whole image (the network input
  is a stretch of the whole image, so normalised coordinates map straight to source pixels).
  Class ids are mapped to COCO-80; the ten ids COCO-80 does not have are dropped.
- ``hailo_nms``: HailoRT's on-chip NMS (NMS_BY_CLASS): per class, boxes (y_min, x_min, y_max, x_max)
  normalised to the network input, which is the letterboxed image, then a score.

No model runtime is imported here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from ..core import yolo
from .engine import Detection, DetectParams
from .labels import COCO80, COCO90_TO_80

if TYPE_CHECKING:
    from ..core.geometry import Letterbox


class NmsBox(Protocol):
    """One box of HailoRT's NMS output (core.hailo_infer.NmsDetection has these fields)."""

    class_id: int
    score: float
    y_min: float
    x_min: float
    y_max: float
    x_max: float


@dataclass(frozen=True)
class Candidates:
    """Boxes before NMS: xyxy (N, 4), scores (N,), class ids (N,)."""

    boxes: np.ndarray
    scores: np.ndarray
    class_ids: np.ndarray

    @classmethod
    def empty(cls) -> Candidates:
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    def take(self, index: np.ndarray) -> Candidates:
        return Candidates(self.boxes[index], self.scores[index], self.class_ids[index])


def _prefilter(c: Candidates, params: DetectParams) -> Candidates:
    keep = c.scores > params.confidence
    if params.classes is not None:
        keep &= np.isin(c.class_ids, np.fromiter(params.classes, dtype=np.int64, count=len(params.classes)))
    return c.take(np.flatnonzero(keep))


def finish(
    c: Candidates,
    params: DetectParams,
    source_hw: tuple[int, int],
    labels: tuple[str, ...] = COCO80,
) -> list[Detection]:
    """Candidates already in source pixels → Detections: score above ``confidence`` (strictly, as
    ultralytics) and in ``classes``, class-aware NMS, best score first, at most ``max_detections``,
    boxes clipped to the image."""
    c = _prefilter(c, params)
    if not len(c) or params.max_detections == 0:
        return []
    h, w = source_hw
    boxes = yolo.clip_boxes(c.boxes, w, h)
    keep = yolo.batched_nms(boxes, c.scores, c.class_ids, params.iou_threshold, params.max_detections)
    out = []
    for i in keep:
        cid = int(c.class_ids[i])
        x1, y1, x2, y2 = (float(v) for v in boxes[i])
        label = labels[cid] if 0 <= cid < len(labels) else str(cid)
        out.append(Detection(cid, label, float(c.scores[i]), x1, y1, x2, y2))
    # nms() already returns best first; the explicit sort documents the contract (Frigate stops
    # reading at the first result below its threshold) and costs nothing.
    out.sort(key=lambda d: -d.score)
    return out


# -- yolov8 (ultralytics ONNX export) --------------------------------------------------------


def _channels_first(output: np.ndarray, channels: int) -> np.ndarray:
    """[1, C, N] (the export's order) or [1, N, C] (some converters transpose it) → (C, N)."""
    out = np.asarray(output, dtype=np.float32)
    if out.ndim == 3 and out.shape[0] == 1:
        out = out[0]
    if out.ndim != 2:
        raise ValueError(f"expected a [1, {channels}, N] output, got shape {tuple(np.shape(output))}")
    if out.shape[0] == channels:
        return out
    if out.shape[1] == channels:
        return out.T
    raise ValueError(f"expected {channels} channels per anchor, got shape {tuple(np.shape(output))}")


def decode_yolov8(output: np.ndarray, num_classes: int = 80, confidence: float = 0.0) -> Candidates:
    """[1, 4 + C, N] → candidates in input pixels (xyxy): each anchor's best class, kept when its score
    is above ``confidence`` (strictly, as ultralytics)."""
    pred = _channels_first(output, 4 + num_classes)
    cls = pred[4:]
    class_ids = cls.argmax(axis=0)
    scores = cls[class_ids, np.arange(cls.shape[1])]
    keep = np.flatnonzero(scores > confidence)
    boxes = yolo.xywh_to_xyxy(pred[:4, keep].T)
    return Candidates(boxes, scores[keep].astype(np.float32), class_ids[keep].astype(np.int64))


def yolov8_to_detections(
    output: np.ndarray,
    letterbox: Letterbox,
    source_hw: tuple[int, int],
    params: DetectParams,
    labels: tuple[str, ...] = COCO80,
) -> list[Detection]:
    c = decode_yolov8(output, len(labels), params.confidence)
    c = _prefilter(c, params)
    if not len(c):
        return []
    # NMS in input pixels would give the same answer (the inverse letterbox is one scale and a
    # shift); mapping first lets finish() clip to the real image before comparing boxes.
    return finish(Candidates(letterbox.boxes_to_source(c.boxes), c.scores, c.class_ids), params, source_hw, labels)


# -- ssd_tf (TF OD API graph through OpenCV DNN) ---------------------------------------------


def ssd_to_detections(
    output: np.ndarray,
    source_hw: tuple[int, int],
    params: DetectParams,
    labels: tuple[str, ...] = COCO80,
) -> list[Detection]:
    rows = np.asarray(output, dtype=np.float32).reshape(-1, 7)
    h, w = source_hw
    class_ids, boxes, scores = [], [], []
    for _, tf_id, score, x1, y1, x2, y2 in rows:
        cid = COCO90_TO_80.get(round(float(tf_id)))
        if cid is None:
            continue
        class_ids.append(cid)
        scores.append(score)
        boxes.append((x1 * w, y1 * h, x2 * w, y2 * h))
    if not scores:
        return []
    c = Candidates(
        np.asarray(boxes, np.float32).reshape(-1, 4), np.asarray(scores, np.float32), np.asarray(class_ids, np.int64)
    )
    return finish(c, params, source_hw, labels)


# -- hailo_nms (HailoRT on-chip NMS) ---------------------------------------------------------


def hailo_nms_to_detections(
    boxes: Iterable[NmsBox],
    input_hw: tuple[int, int],
    letterbox: Letterbox,
    source_hw: tuple[int, int],
    params: DetectParams,
    labels: tuple[str, ...] = COCO80,
) -> list[Detection]:
    """HailoRT NMS boxes (normalised to the letterboxed input) → Detections.

    The HEF ran NMS already, with the IoU threshold it was configured with at load; running the
    request's class-aware NMS again makes a lower per-request ``iou_threshold`` take effect too.
    """
    items = list(boxes)
    if not items:
        return []
    ih, iw = input_hw
    yxyx = np.asarray([(b.y_min, b.x_min, b.y_max, b.x_max) for b in items], np.float32)
    in_pixels = yolo.yxyx_to_xyxy(yxyx) * np.asarray([iw, ih, iw, ih], np.float32)
    c = Candidates(
        letterbox.boxes_to_source(in_pixels),
        np.asarray([b.score for b in items], np.float32),
        np.asarray([b.class_id for b in items], np.int64),
    )
    return finish(c, params, source_hw, labels)

"""hailo-pose's post-processing, shared by the CPU and Hailo engines.

Two YOLOv8-pose output layouts, one ending (``to_persons``: confidence, NMS, best first,
``max_detections``, inverse letterbox to source pixels):

- The ultralytics ONNX export: one tensor [1, 5 + 3K, N] (K = 17 keypoints, N = 8400 anchors at
  640x640): cx, cy, w, h in input pixels, the person score (sigmoid applied), then per keypoint
  x, y in input pixels and its visibility (sigmoid applied). The export has decoded everything.

- The raw head, as the Hailo HEF ends (hailo-apps' ``PoseEstPostProcessing`` decodes these nine
  outputs on the host) and as an ONNX cut before ultralytics' ``Pose`` decode: per stride s in
  (8, 16, 32), on a grid of (H/s, W/s) cells,
    box: 4 x 16 DFL logits (left, top, right, bottom),
    cls: the person score (a probability when the HEF applies the sigmoid on-chip, else a logit),
    kpt: K x (x, y, v) raw values.
  For the cell at column c, row r (anchor point (c + 0.5, r + 0.5) in cell units):
    side distance d = sum_i i * softmax(logits)_i over i = 0..15           (DFL expectation)
    box = (c + 0.5 - d_l, r + 0.5 - d_t, c + 0.5 + d_r, r + 0.5 + d_b) * s
    keypoint x = (2 * x_raw + c) * s,  y = (2 * y_raw + r) * s,  score = sigmoid(v)
  which is ultralytics' ``Pose.kpts_decode`` ((2 * raw + anchor - 0.5) * stride) and hailo-apps'
  ``stride * (2 * raw - 0.5) + centre`` written once. Tensors may be NHWC (HailoRT) or NCHW (ONNX),
  with or without the batch axis; each is recognised by its grid size and channel count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..core import yolo
from .engine import Person, PoseParams

if TYPE_CHECKING:
    from ..core.geometry import Letterbox

KEYPOINT_NAMES: tuple[str, ...] = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)
NUM_KEYPOINTS = len(KEYPOINT_NAMES)

# The COCO person skeleton (the dataset's "skeleton" field, made 0-based): legs, torso, arms, head.
SKELETON: tuple[tuple[int, int], ...] = (
    (15, 13),
    (13, 11),
    (16, 14),
    (14, 12),
    (11, 12),
    (5, 11),
    (6, 12),
    (5, 6),
    (5, 7),
    (6, 8),
    (7, 9),
    (8, 10),
    (1, 2),
    (0, 1),
    (0, 2),
    (1, 3),
    (2, 4),
    (3, 5),
    (4, 6),
)


@dataclass(frozen=True)
class PoseCandidates:
    """Before NMS, in input (letterboxed) pixels: boxes xyxy (N, 4), scores (N,), keypoints (N, K, 3)."""

    boxes: np.ndarray
    scores: np.ndarray
    keypoints: np.ndarray

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    def take(self, index: np.ndarray) -> PoseCandidates:
        return PoseCandidates(self.boxes[index], self.scores[index], self.keypoints[index])

    @classmethod
    def concat(cls, parts: Sequence[PoseCandidates], num_keypoints: int = NUM_KEYPOINTS) -> PoseCandidates:
        if not parts:
            return cls(
                np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, num_keypoints, 3), np.float32)
            )
        return cls(
            np.concatenate([p.boxes for p in parts]),
            np.concatenate([p.scores for p in parts]),
            np.concatenate([p.keypoints for p in parts]),
        )


# -- the ultralytics export ------------------------------------------------------------------


def decode_export(output: np.ndarray, num_keypoints: int = NUM_KEYPOINTS, confidence: float = 0.0) -> PoseCandidates:
    """[1, 5 + 3K, N] (or [1, N, 5 + 3K]) → candidates with score > ``confidence``."""
    channels = 5 + 3 * num_keypoints
    pred = np.asarray(output, dtype=np.float32)
    if pred.ndim == 3 and pred.shape[0] == 1:
        pred = pred[0]
    if pred.ndim != 2 or channels not in pred.shape:
        raise ValueError(f"expected a [1, {channels}, N] pose output, got shape {tuple(np.shape(output))}")
    if pred.shape[0] != channels:
        pred = pred.T
    keep = np.flatnonzero(pred[4] > confidence)
    sel = pred[:, keep]
    return PoseCandidates(
        yolo.xywh_to_xyxy(sel[:4].T),
        sel[4].copy(),
        sel[5:].T.reshape(-1, num_keypoints, 3).copy(),
    )


# -- the raw head ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RawLevel:
    """One stride's three head tensors, each (H, W, C)."""

    stride: int
    box: np.ndarray  # 4 * reg_bins
    score: np.ndarray  # classes (1 for person)
    keypoints: np.ndarray  # 3 * K


def split_raw_heads(
    outputs: Mapping[str, np.ndarray] | Sequence[np.ndarray],
    input_hw: tuple[int, int],
    strides: Sequence[int] = yolo.DEFAULT_STRIDES,
    reg_bins: int = yolo.DEFAULT_REG_BINS,
    num_keypoints: int = NUM_KEYPOINTS,
    num_classes: int = 1,
) -> list[RawLevel]:
    """Sort the head's 3 x levels tensors (any order, any names) into levels by grid size and
    channel count, as (H, W, C). Raises ValueError naming what is missing or ambiguous."""
    tensors = list(outputs.items()) if isinstance(outputs, Mapping) else list(enumerate(outputs))
    roles = {"box": 4 * reg_bins, "score": num_classes, "keypoints": 3 * num_keypoints}
    if len(set(roles.values())) != len(roles):
        raise ValueError(f"head channel counts are not distinct: {roles}")
    levels = []
    used: set[object] = set()
    for stride, grid in zip(strides, yolo.level_shapes(input_hw, strides), strict=True):
        found: dict[str, np.ndarray] = {}
        for role, channels in roles.items():
            matches = [(k, hwc) for k, t in tensors if (hwc := yolo.to_hwc(t, grid, channels)) is not None]
            if len(matches) != 1:
                what = "no" if not matches else f"{len(matches)}"
                shapes = [tuple(np.shape(t)) for _, t in tensors]
                raise ValueError(
                    f"{what} output(s) for the stride-{stride} {role} head "
                    f"({grid[0]}x{grid[1]}x{channels}); outputs have shapes {shapes}"
                )
            used.add(matches[0][0])
            found[role] = matches[0][1]
        levels.append(RawLevel(stride, found["box"], found["score"], found["keypoints"]))
    if len(used) != len(tensors):
        extra = [tuple(np.shape(t)) for k, t in tensors if k not in used]
        raise ValueError(f"outputs that are not part of the pose head: {extra}")
    return levels


def decode_raw_heads(
    levels: Sequence[RawLevel],
    reg_bins: int = yolo.DEFAULT_REG_BINS,
    num_keypoints: int = NUM_KEYPOINTS,
    confidence: float = 0.0,
    score_logits: bool | None = None,
) -> PoseCandidates:
    """Decode the raw head (formulas in the module docstring). Only cells whose person score is
    > ``confidence`` are decoded: on a typical image that skips nearly all of the 8400."""
    scores_per_level = [lv.score.reshape(-1, lv.score.shape[-1]).astype(np.float32).max(axis=1) for lv in levels]
    if score_logits is None:
        score_logits = any(yolo.looks_like_logits(s) for s in scores_per_level)
    parts = []
    for lv, scores in zip(levels, scores_per_level, strict=True):
        if score_logits:
            scores = yolo.sigmoid(scores)
        idx = np.flatnonzero(scores > confidence)
        if not idx.size:
            continue
        gw = lv.box.shape[1]
        cells = np.stack([idx % gw, idx // gw], axis=1).astype(np.float32)  # (col, row)
        box_logits = lv.box.reshape(-1, 4 * reg_bins)[idx]
        boxes = yolo.distances_to_xyxy(yolo.dfl_decode(box_logits, reg_bins), cells + 0.5) * lv.stride
        raw = lv.keypoints.reshape(-1, num_keypoints, 3)[idx].astype(np.float32)
        kpts = np.empty_like(raw)
        kpts[..., :2] = (raw[..., :2] * 2.0 + cells[:, None, :]) * lv.stride
        kpts[..., 2] = yolo.sigmoid(raw[..., 2])
        parts.append(PoseCandidates(boxes.astype(np.float32), scores[idx].astype(np.float32), kpts))
    return PoseCandidates.concat(parts, num_keypoints)


# -- the common ending -----------------------------------------------------------------------


def to_persons(
    c: PoseCandidates,
    letterbox: Letterbox,
    source_hw: tuple[int, int],
    params: PoseParams,
) -> list[Person]:
    """Candidates in input pixels → Persons in source pixels: confidence, NMS (one class, so
    class-agnostic), best first, at most ``max_detections``, clipped to the image."""
    c = c.take(np.flatnonzero(c.scores > params.confidence))
    if not len(c) or params.max_detections == 0:
        return []
    keep = yolo.nms(c.boxes, c.scores, params.iou_threshold, params.max_detections)
    c = c.take(keep)
    h, w = source_hw
    boxes = yolo.clip_boxes(letterbox.boxes_to_source(c.boxes), w, h)
    k = c.keypoints.shape[1]
    xy = np.asarray(letterbox.points_to_source(c.keypoints[..., :2].reshape(-1, 2)), np.float32).reshape(-1, k, 2)
    xy[..., 0] = xy[..., 0].clip(0, w)
    xy[..., 1] = xy[..., 1].clip(0, h)
    people = []
    for i in range(len(c)):
        kp = np.concatenate([xy[i], c.keypoints[i, :, 2:3]], axis=1).astype(np.float32)
        x1, y1, x2, y2 = (float(v) for v in boxes[i])
        people.append(Person(x1, y1, x2, y2, float(c.scores[i]), kp))
    people.sort(key=lambda p: -p.score)
    return people


def visible_skeleton(person: Person, keypoint_threshold: float) -> list[tuple[int, int]]:
    """The SKELETON pairs whose two keypoints both score ≥ ``keypoint_threshold``."""
    ok = person.keypoints[:, 2] >= keypoint_threshold
    return [(a, b) for a, b in SKELETON if ok[a] and ok[b]]

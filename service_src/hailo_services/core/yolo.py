"""YOLO-family building blocks shared by every detector service (detect, pose, scrfd, face, ...).

Pure numpy, no model runtime: box format conversions, IoU, greedy NMS (class-agnostic and
class-aware), the anchor-free grid of YOLOv8-style heads and the DFL (distribution focal loss)
box decode. Conventions, the same as ultralytics so that a CPU export and a Hailo HEF of one
network decode identically:

- boxes are ``(N, 4)`` float arrays, ``xyxy`` = (x1, y1, x2, y2) or ``xywh`` = (cx, cy, w, h);
- anchors are listed stride by stride in the order given (8, 16, 32), row-major within a level
  (index = row * grid_w + col), at the cell centre (col + 0.5, row + 0.5) in grid units;
- a DFL distribution is ``4 * bins`` values per anchor in the order left, top, right, bottom,
  each side's ``bins`` logits contiguous.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

DEFAULT_STRIDES = (8, 16, 32)
DEFAULT_REG_BINS = 16  # YOLOv8's reg_max: 16 bins, distances 0..15 grid cells


# -- activations -----------------------------------------------------------------------------


def sigmoid(x: np.ndarray) -> np.ndarray:
    # Split by sign so that large |x| never overflows exp() (np.exp(1000) is inf plus a warning).
    x = np.asarray(x, dtype=np.float32)
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    e = np.exp(x[~pos])
    out[~pos] = e / (1.0 + e)
    return out


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def looks_like_logits(x: np.ndarray) -> bool:
    """True when ``x`` cannot be probabilities (a value outside [0, 1]).

    Used where a head may or may not end in a sigmoid (a HEF usually has it on-chip, an ONNX cut
    before the sigmoid does not) and the catalog does not say which.
    """
    if x.size == 0:
        return False
    return bool(x.min() < 0.0 or x.max() > 1.0)


# -- box formats -----------------------------------------------------------------------------


def xywh_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    b = np.asarray(boxes, dtype=np.float32)
    half = b[..., 2:4] / 2
    return np.concatenate([b[..., 0:2] - half, b[..., 0:2] + half], axis=-1)


def xyxy_to_xywh(boxes: np.ndarray) -> np.ndarray:
    b = np.asarray(boxes, dtype=np.float32)
    return np.concatenate([(b[..., 0:2] + b[..., 2:4]) / 2, b[..., 2:4] - b[..., 0:2]], axis=-1)


def yxyx_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    """HailoRT's NMS output and TF order boxes (y_min, x_min, y_max, x_max)."""
    b = np.asarray(boxes, dtype=np.float32)
    return b[..., [1, 0, 3, 2]]


def clip_boxes(boxes: np.ndarray, width: float, height: float) -> np.ndarray:
    b = np.asarray(boxes, dtype=np.float32).copy()
    b[..., [0, 2]] = b[..., [0, 2]].clip(0, width)
    b[..., [1, 3]] = b[..., [1, 3]].clip(0, height)
    return b


def _floats(a: np.ndarray) -> np.ndarray:
    """float32 unless already floating (float64 callers keep their precision)."""
    a = np.asarray(a)
    return a if np.issubdtype(a.dtype, np.floating) else a.astype(np.float32)


def box_area(boxes: np.ndarray) -> np.ndarray:
    b = _floats(boxes)
    return (b[..., 2] - b[..., 0]).clip(0) * (b[..., 3] - b[..., 1]).clip(0)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in ``a`` (N, 4) with every box in ``b`` (M, 4): (N, M), xyxy, continuous
    coordinates (no +1 pixel convention, as torchvision and ultralytics)."""
    a = _floats(a).reshape(-1, 4)
    b = _floats(b).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = (rb - lt).clip(0)
    inter = wh[..., 0] * wh[..., 1]
    union = box_area(a)[:, None] + box_area(b)[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


# -- NMS -------------------------------------------------------------------------------------


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float, max_output: int | None = None) -> np.ndarray:
    """Greedy class-agnostic NMS. Returns the indices kept, highest score first.

    A box is suppressed when its IoU with a kept, higher-scoring box is *greater* than
    ``iou_threshold`` (torchvision's rule, which ultralytics uses). Equal scores keep the lower
    index first (a stable sort), so the result does not depend on the sort implementation.
    """
    # float64: batched_nms shifts boxes by up to classes x the image size, where float32 would keep
    # only a fraction of a pixel of precision.
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float32).reshape(-1)
    if boxes.shape[0] != scores.shape[0]:
        raise ValueError(f"{boxes.shape[0]} boxes but {scores.shape[0]} scores")
    order = np.argsort(-scores, kind="stable")
    areas = box_area(boxes)
    keep: list[int] = []
    limit = boxes.shape[0] if max_output is None else max(0, max_output)
    while order.size and len(keep) < limit:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        if not rest.size:
            break
        lt = np.maximum(boxes[i, :2], boxes[rest, :2])
        rb = np.minimum(boxes[i, 2:], boxes[rest, 2:])
        wh = (rb - lt).clip(0)
        inter = wh[:, 0] * wh[:, 1]
        union = areas[i] + areas[rest] - inter
        iou = np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)
        order = rest[iou <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def batched_nms(
    boxes: np.ndarray,
    scores: np.ndarray,
    class_ids: np.ndarray,
    iou_threshold: float,
    max_output: int | None = None,
) -> np.ndarray:
    """Class-aware NMS: boxes only suppress boxes of their own class. Indices kept, best first.

    Implemented as one NMS over boxes shifted apart by class (as torchvision's batched_nms and
    ultralytics do), so that it costs one pass instead of one per class.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    class_ids = np.asarray(class_ids).reshape(-1)
    if boxes.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    # The shift must exceed the whole coordinate range so boxes of two classes never overlap.
    span = float(np.abs(boxes).max()) * 2 + 1.0
    shifted = boxes + (class_ids.astype(np.float64) * span)[:, None]
    return nms(shifted, scores, iou_threshold, max_output)


# -- anchor-free heads (YOLOv8 family) -------------------------------------------------------


@dataclass(frozen=True)
class AnchorGrid:
    """Anchor centres of all levels of an anchor-free head, in the head's flattened order."""

    points: np.ndarray  # (N, 2) x, y in grid units of their own level (col + 0.5, row + 0.5)
    strides: np.ndarray  # (N,) the stride of each anchor's level
    shapes: tuple[tuple[int, int], ...]  # (grid_h, grid_w) per level

    @property
    def centers(self) -> np.ndarray:
        """(N, 2) anchor centres in input pixels."""
        return self.points * self.strides[:, None]


def level_shapes(input_hw: tuple[int, int], strides: Sequence[int] = DEFAULT_STRIDES) -> tuple[tuple[int, int], ...]:
    h, w = input_hw
    # Ceil: a stride-2 convolution with padding 1 rounds up, which is what YOLO's backbone does.
    return tuple((-(-h // s), -(-w // s)) for s in strides)


def anchor_grid(input_hw: tuple[int, int], strides: Sequence[int] = DEFAULT_STRIDES, offset: float = 0.5) -> AnchorGrid:
    points, per_anchor = [], []
    shapes = level_shapes(input_hw, strides)
    for stride, (gh, gw) in zip(strides, shapes, strict=True):
        ys, xs = np.meshgrid(np.arange(gh, dtype=np.float32), np.arange(gw, dtype=np.float32), indexing="ij")
        points.append(np.stack([xs.ravel() + offset, ys.ravel() + offset], axis=1))
        per_anchor.append(np.full(gh * gw, stride, dtype=np.float32))
    return AnchorGrid(np.concatenate(points), np.concatenate(per_anchor), shapes)


def dfl_decode(distribution: np.ndarray, bins: int = DEFAULT_REG_BINS) -> np.ndarray:
    """DFL: each side's ``bins`` logits → softmax → expected value. (N, 4 * bins) → (N, 4) distances
    (left, top, right, bottom) in grid units (0 .. bins - 1)."""
    d = np.asarray(distribution, dtype=np.float32).reshape(-1, 4, bins)
    return (softmax(d, axis=-1) * np.arange(bins, dtype=np.float32)).sum(axis=-1)


def distances_to_xyxy(distances: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(N, 4) left/top/right/bottom distances around (N, 2) points → (N, 4) xyxy, same units."""
    d = np.asarray(distances, dtype=np.float32)
    p = np.asarray(points, dtype=np.float32)
    return np.concatenate([p - d[:, :2], p + d[:, 2:]], axis=1)


def decode_dfl_boxes(distribution: np.ndarray, grid: AnchorGrid, bins: int = DEFAULT_REG_BINS) -> np.ndarray:
    """A YOLOv8 box head over all levels, (N, 4 * bins) logits → (N, 4) xyxy in input pixels."""
    return distances_to_xyxy(dfl_decode(distribution, bins), grid.points) * grid.strides[:, None]


# -- raw head tensors ------------------------------------------------------------------------


def to_hwc(tensor: np.ndarray, grid_hw: tuple[int, int], channels: int | None = None) -> np.ndarray | None:
    """One level's head tensor as (H, W, C), whether it came NHWC (HailoRT) or NCHW (ONNX), with or
    without the batch axis; None when it is not ``grid_hw`` (and ``channels``, when given).

    A shape that reads both ways (C equal to a square grid's side, e.g. 80 classes on an 80x80
    grid) is taken as NHWC, HailoRT's order; pass the tensor already transposed to avoid that.
    """
    t = np.asarray(tensor)
    if t.ndim == 4:
        if t.shape[0] != 1:
            raise ValueError(f"expected batch 1, got shape {t.shape}")
        t = t[0]
    if t.ndim != 3:
        return None
    if t.shape[:2] == grid_hw and channels in (None, t.shape[2]):
        return t
    if t.shape[1:] == grid_hw and channels in (None, t.shape[0]):
        return np.moveaxis(t, 0, -1)
    return None


# -- engine inputs ---------------------------------------------------------------------------


def nchw_input_hw(shape: Sequence[Any], fallback: tuple[int, int]) -> tuple[int, int]:
    """(H, W) of an ONNX NCHW image input; ``fallback`` (the catalog's input size) when the file
    leaves them symbolic (a dynamic-shape export)."""
    dims = list(shape)
    if len(dims) != 4 or (isinstance(dims[1], int) and dims[1] != 3):
        raise ValueError(f"expected an NCHW RGB input [1, 3, H, W], got {dims}")
    h, w = dims[2], dims[3]
    if isinstance(h, int) and isinstance(w, int) and h > 0 and w > 0:
        return (h, w)
    return fallback


def may_have_channels(shape: Sequence[Any], channels: int) -> bool:
    """Whether an ONNX output shape can be [1, channels, N] or [1, N, channels]; symbolic dimensions
    (dynamic exports) are given the benefit of the doubt and checked on the first result."""
    dims = list(shape)
    if len(dims) != 3:
        return False
    fixed = [d for d in dims[1:] if isinstance(d, int)]
    return channels in fixed or len(fixed) < 2


def to_nchw_float(img: np.ndarray) -> np.ndarray:
    """HWC uint8 RGB → [1, 3, H, W] float32 in 0..1, what ultralytics exports take."""
    x = np.ascontiguousarray(img.transpose(2, 0, 1)[None], dtype=np.float32)
    x *= np.float32(1.0 / 255.0)
    return x

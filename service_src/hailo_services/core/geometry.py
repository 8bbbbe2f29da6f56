"""Fitting an image to a network's input, and mapping the network's boxes and points back.

Resizing uses OpenCV's ``cv2.resize(..., INTER_LINEAR)`` and nothing else: it is what ultralytics'
LetterBox uses, so YOLO networks see the pixels they were trained on (hailo-apps' standalone toolbox,
``hailo_apps/python/core/common/toolbox.py`` ``default_preprocess``, pads with the same 114 grey but
resizes with INTER_CUBIC). Pillow's BILINEAR antialiases when it shrinks and gives different values;
a Pillow fallback would make results depend on what happens to be installed, so there is none.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _cv2():
    try:
        import cv2
    except ImportError as exc:  # pragma: no cover - depends on the installed extra
        raise RuntimeError("resizing needs OpenCV: install the service's extra (opencv-python-headless)") from exc
    return cv2


def check_rgb(rgb: np.ndarray) -> None:
    """Engines and the resizers here take H x W x 3 uint8 RGB; anything else is a caller bug (ValueError)."""
    if not isinstance(rgb, np.ndarray) or rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        shape = getattr(rgb, "shape", None)
        dtype = getattr(rgb, "dtype", type(rgb).__name__)
        raise ValueError(f"expected an HxWx3 uint8 image, got shape {shape} dtype {dtype}")
    if rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise ValueError(f"the image has no pixels: shape {rgb.shape}")


def _resize(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    if (rgb.shape[1], rgb.shape[0]) == (width, height):
        return np.ascontiguousarray(rgb).copy()
    return _cv2().resize(rgb, (width, height), interpolation=_cv2().INTER_LINEAR)


@dataclass(frozen=True)
class Letterbox:
    """How a source image was placed in the network input: ``model = source * scale + pad``."""

    scale: float
    pad_x: int
    pad_y: int
    src_w: int
    src_h: int

    def boxes_to_source(self, boxes_xyxy: np.ndarray) -> np.ndarray:
        """(N, 4) x1, y1, x2, y2 in network-input pixels -> source pixels, clipped to the image."""
        boxes = np.asarray(boxes_xyxy, dtype=np.float32).reshape(-1, 4)
        pad = np.array([self.pad_x, self.pad_y, self.pad_x, self.pad_y], dtype=np.float32)
        out = (boxes - pad) / self.scale
        out[:, 0::2] = out[:, 0::2].clip(0, self.src_w)
        out[:, 1::2] = out[:, 1::2].clip(0, self.src_h)
        return out

    def points_to_source(self, points_xy: np.ndarray) -> np.ndarray:
        """(..., 2+) points in network-input pixels -> source pixels; columns after x, y (scores) are kept.

        Not clipped: a keypoint the network places just outside the frame is still where it thinks it is.
        """
        points = np.array(points_xy, dtype=np.float32)
        points[..., 0] = (points[..., 0] - self.pad_x) / self.scale
        points[..., 1] = (points[..., 1] - self.pad_y) / self.scale
        return points


def letterbox(rgb: np.ndarray, size: tuple[int, int], *, pad_value: int = 114) -> tuple[np.ndarray, Letterbox]:
    """Resize keeping the aspect ratio and centre-pad to ``size`` = (height, width), as ultralytics does.

    The padding split follows ultralytics' LetterBox (``round(d/2 -/+ 0.1)``): an odd remainder puts the
    extra pixel at the bottom/right. 114 grey is YOLO's training padding.
    """
    check_rgb(rgb)
    dst_h, dst_w = size
    src_h, src_w = rgb.shape[:2]
    scale = min(dst_h / src_h, dst_w / src_w)
    new_w, new_h = round(src_w * scale), round(src_h * scale)
    dw, dh = (dst_w - new_w) / 2, (dst_h - new_h) / 2
    left, top = round(dw - 0.1), round(dh - 0.1)
    out = np.full((dst_h, dst_w, 3), pad_value, dtype=np.uint8)
    out[top : top + new_h, left : left + new_w] = _resize(rgb, new_w, new_h)
    return out, Letterbox(scale=scale, pad_x=left, pad_y=top, src_w=src_w, src_h=src_h)


@dataclass(frozen=True)
class Stretch:
    """How a source image was stretched to the network input: ``model_x = source_x * scale_x`` (same for y)."""

    scale_x: float
    scale_y: float
    src_w: int
    src_h: int

    def boxes_to_source(self, boxes_xyxy: np.ndarray) -> np.ndarray:
        """(N, 4) x1, y1, x2, y2 in network-input pixels -> source pixels, clipped to the image."""
        boxes = np.asarray(boxes_xyxy, dtype=np.float32).reshape(-1, 4)
        scale = np.array([self.scale_x, self.scale_y, self.scale_x, self.scale_y], dtype=np.float32)
        out = boxes / scale
        out[:, 0::2] = out[:, 0::2].clip(0, self.src_w)
        out[:, 1::2] = out[:, 1::2].clip(0, self.src_h)
        return out

    def points_to_source(self, points_xy: np.ndarray) -> np.ndarray:
        """(..., 2+) points in network-input pixels -> source pixels (extra columns kept, not clipped)."""
        points = np.array(points_xy, dtype=np.float32)
        points[..., 0] /= self.scale_x
        points[..., 1] /= self.scale_y
        return points


def resize_stretch(rgb: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, Stretch]:
    """Resize to ``size`` = (height, width) ignoring the aspect ratio, as SSD-style networks expect."""
    check_rgb(rgb)
    dst_h, dst_w = size
    src_h, src_w = rgb.shape[:2]
    out = _resize(rgb, dst_w, dst_h)
    return out, Stretch(scale_x=dst_w / src_w, scale_y=dst_h / src_h, src_w=src_w, src_h=src_h)

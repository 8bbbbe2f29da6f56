"""Pre- and post-processing shared by both engines (imports no runtime): resize to the network, the
model zoo's post-processing of the network output, the map back at the source size, and what the API
returns of it (stats, 0..1 normalisation, colour map, 16-bit PNG, .npy/.npz).

Post-processing per network, as the Hailo model zoo defines it (``hailo_model_zoo/core/postprocessing/
depth_estimation_postprocessing.py`` in github.com/hailo-ai/hailo_model_zoo, functions
``scdepthv3_postprocessing`` and ``fast_depth_postprocessing``; hailo-apps applies the same on the HEF's
de-quantised output in ``hailo_apps/postprocess/cpp/depth_estimation.cpp``, ``filter_scdepth``):

* scdepthv3: the network (HEF and ONNX alike) ends at its last convolution, before SC-Depth's sigmoid.
  The zoo computes ``depth = 1 / (10 * sigmoid(x) + 0.009)``; the denominator is the network's
  disparity, an inverse depth known only up to scale (SC-Depth is trained self-supervised on video).
  We return that disparity, ``10 * sigmoid(x) + 0.009``, as ``relative_inverse_depth``: larger = nearer,
  and ``1 / value`` is the zoo's (relative) depth.
* fast_depth: the output is the depth itself, in metres at NYU Depth v2's indoor scale (supervised on
  metric ground truth); no post-processing.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

import numpy as np

from ..core.geometry import check_rgb, resize_stretch


@dataclass(frozen=True)
class Quantity:
    """What the values of a depth map are."""

    name: str  # the response field holding the array, and ``quantity`` in the response
    nearer: str  # "higher" or "lower": which values are nearer the camera
    units: str | None  # None: relative (up to an unknown scale)
    description: str


QUANTITIES: dict[str, Quantity] = {
    "scdepthv3": Quantity(
        name="relative_inverse_depth",
        nearer="higher",
        units=None,
        description="inverse depth up to an unknown scale (SC-DepthV3's disparity, 10*sigmoid(x)+0.009): "
        "larger is nearer; 1/value is depth up to scale",
    ),
    "fast_depth": Quantity(
        name="depth",
        nearer="lower",
        units="m",
        description="depth in metres as FastDepth learnt it on NYU Depth v2 (indoor scenes): smaller is nearer",
    ),
}

# Colour maps OpenCV ships (so no plotting library is needed); the seed offered these five.
COLORMAPS: tuple[str, ...] = ("viridis", "plasma", "magma", "turbo", "jet")

# SC-DepthV3's disparity scale and offset (the zoo's scdepthv3_postprocessing).
SCDEPTH_SCALE = 10.0
SCDEPTH_OFFSET = 0.009


def _cv2():
    import cv2  # the depth extra's opencv-python-headless (imported when first needed)

    return cv2


# -- network input -----------------------------------------------------------------------------------


def network_input(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``rgb`` resized to ``size`` = (height, width) ignoring the aspect ratio, as the zoo's depth
    preprocessing does (bilinear); the map is stretched back to the source size afterwards, so every
    value lines up with its source pixel."""
    check_rgb(rgb)
    img, _ = resize_stretch(rgb, size)
    return img


def to_nchw(img: np.ndarray, mean: tuple[float, float, float], std: tuple[float, float, float]) -> np.ndarray:
    """uint8 H x W x 3 RGB -> float32 [1, 3, H, W] of ``(pixel - mean) / std`` per channel (what the
    HEF's on-chip normalisation layer does, done here for the ONNX)."""
    x = img.astype(np.float32)
    x -= np.asarray(mean, np.float32)
    x /= np.asarray(std, np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


# -- network output ----------------------------------------------------------------------------------


def as_map(raw: np.ndarray) -> np.ndarray:
    """The one-channel output as H x W float32: NCHW [1, 1, H, W] (ONNX), NHWC [1, H, W, 1] or
    [H, W, 1] (HailoRT, per frame), [1, H, W] or [H, W]."""
    a = np.asarray(raw, dtype=np.float32)
    shape = a.shape
    while a.ndim > 2 and a.shape[0] == 1:
        a = a[0]
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim != 2 or min(a.shape) < 1:
        raise ValueError(f"a depth network has one output channel; got an output of shape {list(shape)}")
    return a


def postprocess(raw: np.ndarray, output: str) -> np.ndarray:
    """The network output -> the values of ``QUANTITIES[output]`` at the network's resolution."""
    x = as_map(raw)
    if output == "scdepthv3":
        # sigmoid as 0.5 * (1 + tanh(x / 2)): the same function, without exp() overflowing on large |x|.
        sigmoid = 0.5 * (1.0 + np.tanh(0.5 * x))
        return (SCDEPTH_SCALE * sigmoid + SCDEPTH_OFFSET).astype(np.float32)
    if output == "fast_depth":
        return x.astype(np.float32, copy=True)
    raise ValueError(f"unknown depth post-processing {output!r}")


def to_source(values: np.ndarray, height: int, width: int) -> np.ndarray:
    """The map stretched back to the source image's size (bilinear)."""
    if values.shape == (height, width):
        return values
    return _cv2().resize(values, (width, height), interpolation=_cv2().INTER_LINEAR)


# -- what the API returns ----------------------------------------------------------------------------


def stats(values: np.ndarray) -> dict[str, float]:
    p5, p95 = np.percentile(values, (5, 95))
    return {
        "min": float(values.min()),
        "max": float(values.max()),
        "mean": float(values.mean()),
        "p5": float(p5),
        "p95": float(p95),
    }


def normalize(values: np.ndarray) -> np.ndarray:
    """Min-max to 0..1 (a constant map is all zeros)."""
    lo, hi = float(values.min()), float(values.max())
    if not hi > lo:
        return np.zeros_like(values, dtype=np.float32)
    return ((values - lo) / (hi - lo)).astype(np.float32)


def nearness(values: np.ndarray, quantity: Quantity) -> np.ndarray:
    """0..1 with 1 = nearest, whatever the quantity's direction: colour maps show near things bright."""
    n = normalize(values)
    return n if quantity.nearer == "higher" else (1.0 - n).astype(np.float32)


def colorize(values: np.ndarray, quantity: Quantity, colormap: str = "viridis") -> np.ndarray:
    """H x W x 3 uint8 RGB: the map through one of COLORMAPS, nearest brightest."""
    cv2 = _cv2()
    if colormap not in COLORMAPS:
        raise ValueError(f"colormap must be one of {', '.join(COLORMAPS)}")
    grey = np.round(nearness(values, quantity) * 255.0).astype(np.uint8)
    bgr = cv2.applyColorMap(grey, getattr(cv2, f"COLORMAP_{colormap.upper()}"))
    return np.ascontiguousarray(bgr[..., ::-1])


def png_rgb(rgb: np.ndarray) -> bytes:
    from PIL import Image

    from ..core.drawing import png_bytes

    return png_bytes(Image.fromarray(rgb))


def png16(values: np.ndarray) -> bytes:
    """A 16-bit greyscale PNG of the min-max normalised values (0 = min, 65535 = max; the response
    gives min and max, so a client recovers the values)."""
    grey = np.round(normalize(values) * 65535.0).astype(np.uint16)
    ok, buf = _cv2().imencode(".png", grey, [_cv2().IMWRITE_PNG_COMPRESSION, 1])
    if not ok:  # pragma: no cover - OpenCV encodes any 2-D uint16 array
        raise RuntimeError("cannot encode the 16-bit PNG")
    return buf.tobytes()


def npy(values: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, values.astype(np.float32, copy=False), allow_pickle=False)
    return buf.getvalue()


def npz(values: np.ndarray, key: str = "depth") -> bytes:
    """The seed's ``depth_map``: an .npz holding the float32 array under ``key``."""
    buf = io.BytesIO()
    np.savez_compressed(buf, **{key: values.astype(np.float32, copy=False)})
    return buf.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")

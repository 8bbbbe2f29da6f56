"""Images as the model takes them, the same for both engines: resized to the model's frame (the HEF's
fixed 336x336 input), RGB uint8. The NPU gets the array; llama.cpp gets it as a data URI (so it
never decodes untrusted bytes or fetches a URL itself).

The whole picture is resized to the frame, as hailo-apps' VLM example does, rather than centre-cropped
(the seed's way), so nothing at the edges of a camera snapshot is lost; wide images are squeezed.
"""

from __future__ import annotations

import base64
import hashlib
import io

import numpy as np
from PIL import Image


def to_frame(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """An HxWx3 uint8 RGB image resized to ``size`` (width, height), bicubic."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected an HxWx3 uint8 RGB image, got {rgb.shape} {rgb.dtype}")
    if (rgb.shape[1], rgb.shape[0]) == tuple(size):
        return np.ascontiguousarray(rgb)
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BICUBIC))


def frame_data_uri(frame: np.ndarray) -> str:
    """The frame as llama.cpp takes an image: a data URI. BMP, since it is decoded again at once in the
    same process: encoding a 336x336 frame took 0.8 ms against PNG's 21 ms (bench/vision_llm.py), and
    llama.cpp reads both to the same pixels and tokens."""
    buf = io.BytesIO()
    Image.fromarray(frame).save(buf, format="BMP")
    return "data:image/bmp;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def frames_digest(frames: list[np.ndarray]) -> str:
    """What identifies a message's images (for the NPU engine's KV-context reuse)."""
    h = hashlib.sha1(usedforsecurity=False)
    for f in frames:
        h.update(str(f.shape).encode())
        h.update(np.ascontiguousarray(f).tobytes())
    return h.hexdigest()


def frame_tokens(size: tuple[int, int]) -> int:
    """Image tokens Qwen2-VL spends on a frame: 14-pixel patches merged 2x2 (336x336 -> 144)."""
    return max(1, (size[0] // 28) * (size[1] // 28))

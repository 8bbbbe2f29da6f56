"""CLIP's pre- and post-processing, shared by the CPU and Hailo engines (imports no runtime).

Images: CLIP's own transform (``clip.load``'s preprocess): the shorter side resized to 224 with
bicubic filtering, the centre 224x224 crop, then (CPU only) scaled to 0..1 and normalised with
CLIP's mean/std into NCHW. The HEF takes the uint8 crop itself (its first layers normalise).
Text: the tokenizer (clip/tokenizer.py) gives ids; the ONNX encoder takes them, the HEF takes their
rows of the token-embedding table (``token_embedding_lut.npy``) padded with id 0's row, and its
output is read at the EOT position and multiplied by the text projection, as hailo-apps'
``clip_text_utils`` does. Every embedding is L2-normalised; zero-shot scores are CLIP's softmax of
the cosine similarities times the logit scale (100 for the released models).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

from .tokenizer import ClipTokenizer, Encoded

IMAGE_SIZE = 224
MEAN = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)
STD = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)
PAD_ID = 0  # what clip.tokenize and hailo-apps pad with (the EOT, not the padding, carries the text)


# -- images ------------------------------------------------------------------------------------


def resized_size(width: int, height: int, size: int = IMAGE_SIZE) -> tuple[int, int]:
    """(width, height) after torchvision's ``Resize(size)``: shorter side ``size``, longer side scaled
    and truncated to an int."""
    if width <= height:
        return size, max(size, int(size * height / width))
    return max(size, int(size * width / height)), size


def crop_box(width: int, height: int, size: int = IMAGE_SIZE) -> tuple[float, float, float, float]:
    """The source-image region (x1, y1, x2, y2) that CLIP's resize + centre crop keeps."""
    new_w, new_h = resized_size(width, height, size)
    top = round((new_h - size) / 2.0)
    left = round((new_w - size) / 2.0)
    sx, sy = new_w / width, new_h / height
    return (left / sx, top / sy, (left + size) / sx, (top + size) / sy)


def center_crop(rgb: np.ndarray, size: int = IMAGE_SIZE) -> np.ndarray:
    """The centre ``size`` x ``size`` uint8 RGB crop of the image resized as CLIP does.

    Only the crop's region is resampled (Pillow's ``box``, with filter support read from around the box),
    so a 1 x 40 000 000 image costs a 224 x 224 resize, not a 224 x 9e9 one; the pixels are those of a
    full resize followed by the crop.
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected an H x W x 3 uint8 image, got {rgb.dtype} {rgb.shape}")
    h, w = rgb.shape[:2]
    out = Image.fromarray(rgb).resize((size, size), Image.Resampling.BICUBIC, box=crop_box(w, h, size))
    return np.asarray(out, dtype=np.uint8)


def normalize(crop: np.ndarray) -> np.ndarray:
    """uint8 H x W x 3 -> float32 3 x H x W with CLIP's mean and std."""
    x = crop.astype(np.float32) / 255.0
    return np.ascontiguousarray(((x - MEAN) / STD).transpose(2, 0, 1))


def pixel_batch(images: Sequence[np.ndarray], size: int = IMAGE_SIZE) -> np.ndarray:
    """The ONNX image encoder's input: N x 3 x size x size float32."""
    return np.stack([normalize(center_crop(rgb, size)) for rgb in images])


# -- text --------------------------------------------------------------------------------------


def token_batch(encoded: Sequence[Encoded], length: int) -> np.ndarray:
    """N x ``length`` int64 ids padded with PAD_ID (``length`` >= the longest text)."""
    ids = np.full((len(encoded), length), PAD_ID, dtype=np.int64)
    for row, enc in zip(ids, encoded, strict=True):
        if len(enc.ids) > length:
            raise ValueError(f"a text has {len(enc.ids)} tokens, more than the encoder's {length}")
        row[: len(enc.ids)] = enc.ids
    return ids


def encode_texts(tokenizer: ClipTokenizer, texts: Sequence[str], context_length: int) -> list[Encoded]:
    return [tokenizer.encode(t, context_length) for t in texts]


def lut_embeddings(encoded: Encoded, lut: np.ndarray, context_length: int) -> np.ndarray:
    """The HEF text encoder's input for one text: context_length x D float32 rows of the token-embedding
    table, ids padded with PAD_ID (hailo-apps ``prepare_text_for_hailo_encoder``); the positional
    embedding is added inside the HEF."""
    ids = token_batch([encoded], context_length)[0]
    return np.ascontiguousarray(lut[ids], dtype=np.float32)


def project_eot(hidden: np.ndarray, eot: int, projection: np.ndarray) -> np.ndarray:
    """The text feature: the encoder's output row at the EOT position times the text projection
    (stored in OpenAI's orientation, in x out, as hailo-apps' ``text_projection.npy``)."""
    return hidden[eot].astype(np.float32) @ projection.astype(np.float32)


# -- scores ------------------------------------------------------------------------------------


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (a zero row stays zero rather than becoming NaN)."""
    x = np.asarray(x, dtype=np.float32)
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    return (x / np.where(norm > 0, norm, 1.0)).astype(np.float32)


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarities of unit rows: (N, D) x (M, D) -> (N, M)."""
    return np.asarray(a, np.float32) @ np.asarray(b, np.float32).T


def softmax(logits: np.ndarray) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64)
    z = np.exp(z - z.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def zero_shot(image: np.ndarray, texts: np.ndarray, logit_scale: float) -> tuple[np.ndarray, np.ndarray]:
    """(similarities, probabilities) of one unit image embedding against unit text embeddings:
    CLIP's ``logits_per_image.softmax(-1)``."""
    sims = cosine(image[None, :], texts)[0]
    return sims, softmax(logit_scale * sims)


def shorten(vectors: np.ndarray, dimensions: int) -> np.ndarray:
    """The first ``dimensions`` of each vector, normalised again (OpenAI's ``dimensions``)."""
    return l2_normalize(np.asarray(vectors)[:, :dimensions])

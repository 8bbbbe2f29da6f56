"""hailo-clip has no packaged CPU weights: tests run it on tiny encoders with the real exports'
interfaces (tests/tiny_models.py), placed where the catalog expects clip_vit_b_32's ONNX files; the
BPE vocabulary is the real one (open-clip-torch, requirements-models.txt).

The weights make colour the meaning: an image's embedding is its mean normalised colour in
dimensions 0-2, and the words "red", "green" and "blue" embed as those colours, so a red picture
ranks "a photo of a red square" first. Every other word adds a little of dimension 3 (so any text
has a direction) and nothing of the colours.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hailo_services.clip.engine import load_catalog
from hailo_services.clip.tokenizer import ClipTokenizer
from tiny_models import clip_image_encoder, clip_text_encoder

DIM = 512
COLOURS = {"red": (1.0, -0.5, -0.5), "green": (-0.5, 1.0, -0.5), "blue": (-0.5, -0.5, 1.0)}
# Words the tests use, with no colour in them.
PLAIN_WORDS = ("a", "photo", "of", "square", "cat", "dog", "car", "the", "hello", "world")


def vocab_path() -> Path:
    from hailo_services.core.model_store import locate

    spec = load_catalog().get("clip_vit_b_32")
    path = locate(Path("/nonexistent"), spec.artifacts("cpu")[2])
    assert path is not None, "install open-clip-torch --no-deps (requirements-models.txt)"
    return path


def text_rows(tokenizer: ClipTokenizer) -> dict[int, np.ndarray]:
    rows: dict[int, np.ndarray] = {}
    for word, colour in COLOURS.items():
        (token,) = tokenizer.tokens(word)
        rows[token] = np.zeros(DIM, np.float32)
        rows[token][:3] = colour
    for word in PLAIN_WORDS:
        (token,) = tokenizer.tokens(word)
        rows[token] = np.zeros(DIM, np.float32)
        rows[token][3] = 0.05
    return rows


def provision(workdir: Path) -> dict:
    spec = load_catalog().get("clip_vit_b_32")
    image, text, _vocab = spec.artifacts("cpu")
    weights = np.zeros((3, DIM), np.float32)
    weights[0, 0] = weights[1, 1] = weights[2, 2] = 1.0
    clip_image_encoder(workdir / "models" / image.file, weights)
    clip_text_encoder(workdir / "models" / text.file, text_rows(ClipTokenizer.from_file(vocab_path())), DIM)
    return {}

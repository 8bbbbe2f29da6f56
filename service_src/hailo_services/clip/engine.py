"""hailo-clip's engine interface, result types and catalog schema.

An engine holds a CLIP model's two encoders (image and text) and the tokenizer, and embeds a whole
batch of images or texts per call (on the NPU: one ``HailoModel.run`` per batch). Vectors come back
L2-normalised in one space, so image-text, text-text and image-image cosines are all meaningful.
This module imports no model runtime; cpu.py and hailo.py import theirs when a model loads.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from ..core.catalog import Catalog, ModelSpec
from ..core.models import ModelSlot
from .tokenizer import CONTEXT_LENGTH

# The order of a model's files in catalog.yaml, per engine (the engines read them by position).
# Text embeddings kept per loaded model: zero-shot clients send the same labels with every snapshot.
TEXT_CACHE_SIZE = 4096
CPU_FILES = ("image encoder (ONNX)", "text encoder (ONNX)", "BPE vocabulary")
HAILO_FILES = ("image encoder (HEF)", "text encoder (HEF)", "BPE vocabulary", "token embedding LUT", "text projection")


@dataclass(frozen=True)
class ClipModelSpec(ModelSpec):
    """A CLIP catalog entry: image and text encoders that embed into one ``embedding_dim`` space."""

    embedding_dim: int = 512
    image_size: int = 224
    context_length: int = CONTEXT_LENGTH
    # CLIP's learned temperature, exp(logit_scale): 100 for OpenAI's released models.
    logit_scale: float = 100.0

    def __post_init__(self) -> None:
        if self.embedding_dim <= 0 or self.image_size <= 0 or not 2 <= self.context_length <= 1024:
            raise ValueError(f"model {self.name!r}: embedding_dim, image_size and context_length must be positive")
        for engine, roles in (("cpu", CPU_FILES), ("hailo", HAILO_FILES)):
            files = self.artifacts(engine)
            if files and len(files) != len(roles):
                raise ValueError(
                    f"model {self.name!r}: the {engine} engine needs {len(roles)} files: {', '.join(roles)}"
                )


class ClipCatalog(Catalog[ClipModelSpec]):
    spec_class = ClipModelSpec


@cache
def load_catalog() -> ClipCatalog:
    return ClipCatalog.load_package("hailo_services.clip")  # type: ignore[return-value]


@dataclass(frozen=True)
class TextEmbeddings:
    vectors: np.ndarray  # N x D float32, unit rows
    tokens: list[int]  # tokens per text, SOT and EOT included (OpenAI's usage counts them)
    truncated: list[bool]  # texts cut at the context length


class ClipEngine(ModelSlot, ABC):
    """A CLIP model's two encoders (``_model`` holds both); ModelSlot (core/models.py) gives ``loaded`` and
    ``held``. Subclasses implement the batch calls; :meth:`texts` adds the text-embedding cache."""

    kind: str = ""

    @abstractmethod
    def load(self, spec: ClipModelSpec, paths: list[Path]) -> None: ...

    @abstractmethod
    def embed_images(self, images: list[np.ndarray]) -> np.ndarray:
        """Unit embeddings (N x D float32) of H x W x 3 uint8 RGB images, in one batch."""

    @abstractmethod
    def embed_texts(self, texts: list[str]) -> TextEmbeddings:
        """Unit embeddings of texts, in one batch."""

    def unload(self) -> None:
        models, self._model, self._spec = self._model, None, None
        self._cache().clear()
        for m in models or ():
            m.close()

    def _cache(self) -> OrderedDict[str, tuple[np.ndarray, int, bool]]:
        cache = self.__dict__.get("_text_cache")
        if cache is None:
            cache = self.__dict__["_text_cache"] = OrderedDict()
            self.__dict__["_text_lock"] = threading.Lock()
        return cache

    def texts(self, texts: list[str]) -> TextEmbeddings:
        """:meth:`embed_texts` through an LRU cache of the loaded model's text embeddings: only the texts
        not seen lately go to the encoder (still as one batch)."""
        _, spec = self.held()
        cache = self._cache()
        with self.__dict__["_text_lock"]:
            hits = {t: cache[t] for t in dict.fromkeys(texts) if t in cache}
            for t in hits:
                cache.move_to_end(t)
        missing = [t for t in dict.fromkeys(texts) if t not in hits]
        if missing:
            fresh = self.embed_texts(missing)
            with self.__dict__["_text_lock"]:
                for i, t in enumerate(missing):
                    hits[t] = cache[t] = (fresh.vectors[i], fresh.tokens[i], fresh.truncated[i])
                while len(cache) > TEXT_CACHE_SIZE:
                    cache.popitem(last=False)
        if not texts:
            return TextEmbeddings(np.zeros((0, spec.embedding_dim), np.float32), [], [])
        rows = [hits[t] for t in texts]
        return TextEmbeddings(np.stack([r[0] for r in rows]), [r[1] for r in rows], [r[2] for r in rows])

    @property
    def dimension(self) -> int:
        _, spec = self.held()
        return spec.embedding_dim

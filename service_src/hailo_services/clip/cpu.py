"""hailo-clip's CPU engine: CLIP ViT-B/32's image and text encoders as ONNX, through core.onnx_infer.

The interface is that of the Hugging Face / transformers.js exports (Xenova/clip-vit-base-patch32, the
catalog's files): the image encoder takes ``pixel_values`` N x 3 x 224 x 224 float32 (CLIP-normalised)
and returns ``image_embeds`` N x 512 (projected, not normalised); the text encoder takes ``input_ids``
N x L int64 (and ``attention_mask`` when the export has one) and returns ``text_embeds`` N x 512, pooled
at the EOT. Padding after the EOT does not change the EOT's feature (the text encoder is causal), so
a batch is padded only to its longest text when the export's sequence axis is dynamic.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from . import processing
from .engine import CPU_FILES, ClipEngine, ClipModelSpec, TextEmbeddings
from .tokenizer import ClipTokenizer

IMAGE_INPUT, IMAGE_OUTPUT = "pixel_values", "image_embeds"
TEXT_INPUT, TEXT_MASK, TEXT_OUTPUT = "input_ids", "attention_mask", "text_embeds"


def _output(model: Any, preferred: str, path: Path) -> str:
    if preferred in model.output_names:
        return preferred
    flat = [n for n in model.output_names if len(model.outputs[n][0]) == 2]
    if len(flat) == 1:
        return flat[0]
    raise ValueError(f"{path.name}: no {preferred!r} output (has {list(model.output_names)})")


def _fixed(dim: Any) -> int | None:
    return dim if isinstance(dim, int) and dim > 0 else None


class ClipOnnxEngine(ClipEngine):
    kind = "cpu"

    def __init__(self, threads: int | None = None):
        self._threads = threads
        self._model: Any = None
        self._spec: ClipModelSpec | None = None

    def load(self, spec: ClipModelSpec, paths: list[Path]) -> None:
        from ..core.onnx_infer import OnnxModel

        self.unload()
        if len(paths) != len(CPU_FILES):
            raise ValueError(f"the CPU engine needs {len(CPU_FILES)} files ({', '.join(CPU_FILES)}), got {len(paths)}")
        image = OnnxModel(paths[0], threads=self._threads)
        text = None
        try:
            text = OnnxModel(paths[1], threads=self._threads)
            if IMAGE_INPUT not in image.inputs or len(image.inputs) != 1:
                raise ValueError(f"{paths[0].name}: expected one input {IMAGE_INPUT!r}, got {list(image.input_names)}")
            shape = image.inputs[IMAGE_INPUT][0]
            want = (3, spec.image_size, spec.image_size)
            if len(shape) != 4 or any(_fixed(d) not in (None, w) for d, w in zip(shape[1:], want, strict=True)):
                raise ValueError(f"{paths[0].name}: input {list(shape)} is not [N, {', '.join(map(str, want))}]")
            if TEXT_INPUT not in text.inputs or not set(text.input_names) <= {TEXT_INPUT, TEXT_MASK}:
                raise ValueError(f"{paths[1].name}: expected input {TEXT_INPUT!r}, got {list(text.input_names)}")
            self._image_out = _output(image, IMAGE_OUTPUT, paths[0])
            self._text_out = _output(text, TEXT_OUTPUT, paths[1])
            for model, name, path in ((image, self._image_out, paths[0]), (text, self._text_out, paths[1])):
                dim = _fixed(model.outputs[name][0][-1])
                if dim is not None and dim != spec.embedding_dim:
                    raise ValueError(f"{path.name}: {name} has {dim} dimensions, the catalog says {spec.embedding_dim}")
            text_shape = text.inputs[TEXT_INPUT][0]
            self._text_length = _fixed(text_shape[1]) if len(text_shape) == 2 else None
            if self._text_length is not None and self._text_length < 2:
                raise ValueError(f"{paths[1].name}: input_ids {list(text_shape)} holds no text")
            self._image_batch = _fixed(shape[0])
            self._text_batch = _fixed(text_shape[0])
            self._text_dtype = text.inputs[TEXT_INPUT][1]
            self._tokenizer = ClipTokenizer.from_file(paths[2])
        except Exception:
            image.close()
            if text is not None:
                text.close()
            raise
        self._model, self._spec = (image, text), spec

    @property
    def tokenizer(self) -> ClipTokenizer:
        self.held()
        return self._tokenizer

    def _run(self, model: Any, feeds: dict[str, np.ndarray], output: str, fixed_batch: int | None) -> np.ndarray:
        n = len(next(iter(feeds.values())))
        step = fixed_batch or n  # an export with a fixed batch of 1 runs item by item
        parts = [model.run({k: v[i : i + step] for k, v in feeds.items()})[output] for i in range(0, n, step)]
        return np.concatenate(parts).reshape(n, -1)

    def embed_images(self, images: list[np.ndarray]) -> np.ndarray:
        (image, _), spec = self.held()
        if not images:
            return np.zeros((0, spec.embedding_dim), np.float32)
        pixels = processing.pixel_batch(images, spec.image_size)
        return processing.l2_normalize(self._run(image, {IMAGE_INPUT: pixels}, self._image_out, self._image_batch))

    def embed_texts(self, texts: list[str]) -> TextEmbeddings:
        (_, text), spec = self.held()
        if not texts:
            return TextEmbeddings(np.zeros((0, spec.embedding_dim), np.float32), [], [])
        context = min(spec.context_length, self._text_length or spec.context_length)
        encoded = processing.encode_texts(self._tokenizer, texts, context)
        length = self._text_length or max(len(e.ids) for e in encoded)
        ids = processing.token_batch(encoded, length)
        feeds = {TEXT_INPUT: ids.astype(self._text_dtype)}
        if TEXT_MASK in text.inputs:
            feeds[TEXT_MASK] = (np.arange(length)[None, :] <= np.array([e.eot for e in encoded])[:, None]).astype(
                text.inputs[TEXT_MASK][1]
            )
        vectors = processing.l2_normalize(self._run(text, feeds, self._text_out, self._text_batch))
        return TextEmbeddings(vectors, [len(e.ids) for e in encoded], [e.truncated for e in encoded])

"""hailo-clip's NPU engine: the Hailo-10H ``clip_vit_b_32_image_encoder`` and ``clip_vit_b_32_text_encoder``
HEFs through core.hailo_infer, with the text side's host parts as hailo-apps' ``clip_text_utils`` has them.

Image: the CLIP centre crop as uint8 224 x 224 x 3 (the HEF normalises); its one output (1 x 1 x 512)
is the projected image feature. Text: the HEF starts after the token embedding and ends at the final
layer norm (``input_layer1`` 1 x 77 x 512, ``normalization25`` 1 x 77 x 512): the host looks the ids up
in ``token_embedding_lut.npy`` (49408 x 512), pads with id 0's row, sends FLOAT32 (HailoRT quantises),
then reads the output row at the EOT and multiplies it by ``text_projection.npy`` (512 x 512, OpenAI's
in x out orientation). Every batch of images or texts is one ``HailoModel.run`` (one device job for
up to the async queue's size), not one call per prompt.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from . import processing
from .engine import HAILO_FILES, ClipEngine, ClipModelSpec, TextEmbeddings
from .tokenizer import VOCAB_SIZE, ClipTokenizer


class HailoClipEngine(ClipEngine):
    kind = "hailo"

    def __init__(self, group_id: str = "SHARED", *, timeout_ms: int = 10_000):
        self._group_id = group_id
        self._timeout_ms = timeout_ms
        self._model: Any = None
        self._spec: ClipModelSpec | None = None

    def load(self, spec: ClipModelSpec, paths: list[Path]) -> None:
        from ..core.hailo_infer import HailoModel

        self.unload()
        if len(paths) != len(HAILO_FILES):
            raise ValueError(f"the Hailo engine needs {len(HAILO_FILES)} files ({', '.join(HAILO_FILES)})")
        image_hef, text_hef, vocab, lut_path, projection_path = paths
        # Checked before the device is touched: a wrong table fails the load with its name.
        lut = np.load(lut_path, mmap_mode="r")  # 49408 x 512 float32 = 100 MB: read pages on demand
        projection = np.load(projection_path).astype(np.float32)
        if lut.ndim != 2 or lut.shape[0] < VOCAB_SIZE:
            raise ValueError(f"{lut_path.name}: shape {lut.shape} is not a {VOCAB_SIZE} x D token table")
        if projection.ndim != 2 or projection.shape != (lut.shape[1], spec.embedding_dim):
            raise ValueError(
                f"{projection_path.name}: shape {projection.shape}, expected ({lut.shape[1]}, {spec.embedding_dim})"
            )
        tokenizer = ClipTokenizer.from_file(vocab)
        image = HailoModel(image_hef, group_id=self._group_id, output_format="float32", timeout_ms=self._timeout_ms)
        text = None
        try:
            h, w, c = image.input_shape
            if (h, w, c) != (spec.image_size, spec.image_size, 3) or len(image.output_names) != 1:
                raise ValueError(
                    f"{image_hef.name}: input {image.input_shape} / {len(image.output_names)} outputs; expected "
                    f"{spec.image_size}x{spec.image_size}x3 and one embedding output"
                )
            if int(np.prod(image.output_shapes[image.output_names[0]])) != spec.embedding_dim:
                raise ValueError(f"{image_hef.name}: output {image.output_shapes} is not {spec.embedding_dim} values")
            text = HailoModel(
                text_hef,
                group_id=self._group_id,
                output_format="float32",
                input_format="float32",
                timeout_ms=self._timeout_ms,
            )
            seq, width = text.input_shape[-2:]
            if int(np.prod(text.input_shape[:-2])) != 1 or width != lut.shape[1] or len(text.output_names) != 1:
                raise ValueError(f"{text_hef.name}: input {text.input_shape} does not take {lut.shape[1]}-wide rows")
            out_shape = text.output_shapes[text.output_names[0]]
            if int(np.prod(out_shape)) != seq * lut.shape[1]:
                raise ValueError(f"{text_hef.name}: output {out_shape} is not {seq} x {lut.shape[1]}")
        except Exception:
            image.close()
            if text is not None:
                text.close()
            raise
        self._lut, self._projection, self._tokenizer, self._context = lut, projection, tokenizer, int(seq)
        self._model, self._spec = (image, text), spec

    def embed_images(self, images: list[np.ndarray]) -> np.ndarray:
        (image, _), spec = self.held()
        if not images:
            return np.zeros((0, spec.embedding_dim), np.float32)
        frames = [processing.center_crop(rgb, spec.image_size) for rgb in images]
        outputs = image.run(frames)
        name = image.output_names[0]
        return processing.l2_normalize(np.stack([np.asarray(o[name], np.float32).reshape(-1) for o in outputs]))

    def embed_texts(self, texts: list[str]) -> TextEmbeddings:
        (_, text), spec = self.held()
        if not texts:
            return TextEmbeddings(np.zeros((0, spec.embedding_dim), np.float32), [], [])
        encoded = processing.encode_texts(self._tokenizer, texts, self._context)
        frames = [processing.lut_embeddings(e, self._lut, self._context).reshape(text.input_shape) for e in encoded]
        outputs = text.run(frames)
        name, width = text.output_names[0], self._lut.shape[1]
        hidden = [np.asarray(o[name], np.float32).reshape(self._context, width) for o in outputs]
        features = [processing.project_eot(h, e.eot, self._projection) for h, e in zip(hidden, encoded, strict=True)]
        return TextEmbeddings(
            processing.l2_normalize(np.stack(features)), [len(e.ids) for e in encoded], [e.truncated for e in encoded]
        )

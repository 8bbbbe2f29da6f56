"""hailo-ocr's CPU engine: the PP-OCR det and rec ONNX files through core/onnx_infer.py, run by our
pipeline (processing.py), the one the Hailo engine runs.

Both networks take [N, 3, H, W] float32 normalised to [-1, 1] with dynamic H and W (the detector's a
multiple of 32, the recogniser's H = 48). PaddleOCR trains on OpenCV-decoded images, so the networks
expect BGR: the engine flips the decoded RGB once and crops from that.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..core.geometry import check_rgb
from . import processing
from .engine import OcrEngine, OcrModelSpec, OcrParams, OcrResult


class PaddleOcrOnnxEngine(OcrEngine):
    kind = "cpu"

    def __init__(self, threads: int | None = None):
        self._threads = threads
        self._model: Any = None
        self._spec: OcrModelSpec | None = None
        self._rec: Any = None
        self._charset: tuple[str, ...] = ()

    def load(self, spec: OcrModelSpec, paths: list[Path]) -> None:
        from ..core.onnx_infer import OnnxModel

        if len(paths) != 2:
            raise ValueError(f"model {spec.name!r}: the CPU engine needs a det and a rec ONNX, got {len(paths)} files")
        self.unload()
        det = OnnxModel(paths[0], threads=self._threads)
        rec = OnnxModel(paths[1], threads=self._threads)
        try:
            for model, what in ((det, "detector"), (rec, "recogniser")):
                if len(model.input_names) != 1 or len(model.output_names) != 1:
                    raise ValueError(f"{model.path.name}: a PP-OCR {what} has one input and one output")
                shape = model.inputs[model.input_names[0]][0]
                if len(shape) != 4 or shape[1] != 3:
                    raise ValueError(f"{model.path.name}: input {list(shape)} is not [N, 3, H, W]")
            if spec.charset == "onnx_metadata":
                if "character" not in rec.metadata:
                    raise ValueError(f"{rec.path.name}: no 'character' metadata (the recogniser's dictionary)")
                charset = processing.charset_from_metadata(rec.metadata["character"])
            else:
                charset = processing.make_charset(processing.EN_DICT)
            classes = rec.outputs[rec.output_names[0]][0][-1]
            if isinstance(classes, int) and classes != len(charset):
                raise ValueError(f"{rec.path.name}: {classes} classes, but its dictionary makes {len(charset)}")
        except Exception:
            det.close()
            rec.close()
            raise
        self._model, self._rec, self._spec, self._charset = det, rec, spec, charset

    def unload(self) -> None:
        rec, self._rec = self._rec, None
        if rec is not None:
            rec.close()
        super().unload()

    def read(self, rgb: np.ndarray, params: OcrParams) -> OcrResult:
        check_rgb(rgb)
        det, spec = self.held()
        rec, charset = self._rec, self._charset
        det_in, rec_in = det.input_names[0], rec.input_names[0]

        def detect(image: np.ndarray):
            resized, mapping = processing.det_resize(image, spec.det_max_side)
            (prob,) = det.run({det_in: processing.normalise_nchw(resized)}).values()
            return prob, mapping

        def recognise(crops: list[np.ndarray]) -> list[tuple[str, float]]:
            out: list[tuple[str, float]] = [("", 0.0)] * len(crops)
            for idx, batch in processing.rec_batches(crops, spec.rec_height, spec.rec_min_width, spec.rec_batch):
                (scores,) = rec.run({rec_in: batch}).values()
                for i, result in zip(idx, processing.ctc_greedy(scores, charset), strict=True):
                    out[i] = result
            return out

        bgr = np.ascontiguousarray(rgb[..., ::-1])
        return processing.read(bgr, detect, recognise, params, spec.unclip_ratio)

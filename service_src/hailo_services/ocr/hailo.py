"""hailo-ocr's NPU engine: ``ocr_det.hef`` + ``ocr.hef`` through core.hailo_infer on the shared VDevice,
run by the same pipeline as the CPU engine (processing.py).

What the HEFs take and give (docs/hailo-models.md): uint8 NHWC RGB (normalisation is compiled into
the HEF); the detector a fixed frame (544x960 for hailo-apps' ocr_det.hef), letterboxed, out a
one-channel probability map of the same size; the recogniser 48x320 frames, out (40 steps x 97
classes) over PaddleOCR's English dictionary. Shapes are read from the HEF at load, and a recogniser
whose class count does not match the dictionary fails the load. The recogniser is configured for
batches of 8 crops.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..core.geometry import check_rgb
from . import processing
from .engine import OcrEngine, OcrModelSpec, OcrParams, OcrResult


class HailoOcrEngine(OcrEngine):
    kind = "hailo"

    def __init__(self, group_id: str = "SHARED", *, timeout_ms: int = 10_000):
        self._group_id = group_id
        self._timeout_ms = timeout_ms
        self._model: Any = None
        self._spec: OcrModelSpec | None = None
        self._rec: Any = None
        self._charset: tuple[str, ...] = ()

    def load(self, spec: OcrModelSpec, paths: list[Path]) -> None:
        from ..core.hailo_infer import HailoModel

        if len(paths) != 2:
            raise ValueError(f"model {spec.name!r}: the Hailo engine needs a det and a rec HEF, got {len(paths)} files")
        self.unload()
        common = {"group_id": self._group_id, "output_format": "float32", "nms": None, "timeout_ms": self._timeout_ms}
        det = HailoModel(paths[0], batch_size=1, **common)
        rec = None
        try:
            rec = HailoModel(paths[1], batch_size=spec.rec_batch, **common)
            for model in (det, rec):
                if model.input_shape[2] != 3:
                    raise ValueError(f"{model.name}: input {list(model.input_shape)} is not RGB")
                if len(model.output_names) != 1:
                    raise ValueError(f"{model.name}: {len(model.output_names)} outputs, expected one")
            det_out = model_output_shape(det)
            if int(np.prod(det_out)) != det.input_shape[0] * det.input_shape[1]:
                raise ValueError(f"{det.name}: output {list(det_out)} is not one map of the input's size")
            charset = processing.make_charset(processing.EN_DICT)
            if spec.hailo_charset == "onnx_metadata":
                raise ValueError(f"model {spec.name!r}: a HEF carries no character metadata; use en_dict")
            classes = model_output_shape(rec)[-1]
            if classes != len(charset):
                raise ValueError(
                    f"{rec.name}: {classes} classes, but the {spec.hailo_charset} table has {len(charset)}"
                )
        except Exception:
            det.close()
            if rec is not None:
                rec.close()
            raise
        self._model, self._rec, self._spec, self._charset = det, rec, spec, charset

    def unload(self) -> None:
        rec, self._rec = self._rec, None
        if rec is not None:
            rec.close()
        super().unload()

    def read(self, rgb: np.ndarray, params: OcrParams) -> OcrResult:
        from ..core.geometry import letterbox

        check_rgb(rgb)
        det, spec = self.held()
        rec, charset = self._rec, self._charset
        det_hw = (int(det.input_shape[0]), int(det.input_shape[1]))
        rec_hw = (int(rec.input_shape[0]), int(rec.input_shape[1]))

        def detect(image: np.ndarray):
            frame, mapping = letterbox(image, det_hw)
            (out,) = det.run([frame])
            return out[det.output_names[0]], mapping

        def recognise(crops: list[np.ndarray]) -> list[tuple[str, float]]:
            frames = [processing.rec_frame(c, rec_hw) for c in crops]
            results: list[tuple[str, float]] = []
            name = rec.output_names[0]
            for start in range(0, len(frames), spec.rec_batch):
                outs = rec.run(frames[start : start + spec.rec_batch])
                scores = np.stack([np.asarray(o[name], np.float32).reshape(-1, len(charset)) for o in outs])
                results.extend(processing.ctc_greedy(scores, charset))
            return results

        return processing.read(rgb, detect, recognise, params, spec.unclip_ratio)


def model_output_shape(model: Any) -> tuple[int, ...]:
    return tuple(int(d) for d in model.output_shapes[model.output_names[0]])

"""hailo-detect's CPU engines: YOLOv8 ONNX through onnxruntime, SSD-MobileNet-v2 through OpenCV DNN.

The runtimes are imported when a model loads, not when this module is imported, so the service
starts (and reports what is missing) on a machine without them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..core import yolo
from ..core.geometry import check_rgb
from . import processing
from .engine import DetectEngine, Detection, DetectModelSpec, DetectParams
from .labels import labels_for


class YoloOnnxEngine(DetectEngine):
    """An ultralytics YOLOv8 ONNX export: input ``images`` [1, 3, H, W] float32 RGB in 0..1 of the
    letterboxed image (pad 114), output [1, 4 + C, N] (processing.decode_yolov8)."""

    kind = "cpu"

    def __init__(self, threads: int | None = None):
        self._threads = threads
        self._model: Any = None
        self._spec: DetectModelSpec | None = None
        self._input_name = ""
        self._output_name = ""
        self._input_hw = (640, 640)
        self._labels: tuple[str, ...] = ()

    def load(self, spec: DetectModelSpec, paths: list[Path]) -> None:
        from ..core.onnx_infer import OnnxModel

        self.unload()
        labels = labels_for(spec.labels)
        model = OnnxModel(paths[0], threads=self._threads)
        try:
            if len(model.input_names) != 1 or len(model.output_names) != 1:
                raise ValueError(
                    f"{paths[0].name}: expected one input and one output (a YOLOv8 export), got "
                    f"inputs {list(model.input_names)} and outputs {list(model.output_names)}"
                )
            in_name, out_name = model.input_names[0], model.output_names[0]
            in_shape = model.inputs[in_name][0]
            out_shape = model.outputs[out_name][0]
            self._input_hw = yolo.nchw_input_hw(in_shape, spec.input_size)
            channels = 4 + len(labels)
            if not yolo.may_have_channels(out_shape, channels):
                raise ValueError(f"{paths[0].name}: output {out_name} {out_shape} is not [1, {channels}, N]")
        except Exception:
            model.close()
            raise
        self._model, self._spec, self._labels = model, spec, labels
        self._input_name, self._output_name = in_name, out_name

    def detect(self, rgb: np.ndarray, params: DetectParams) -> list[Detection]:
        from ..core.geometry import letterbox

        check_rgb(rgb)
        model, _ = self.held()
        img, box = letterbox(rgb, self._input_hw)
        x = yolo.to_nchw_float(img)
        out = model.run({self._input_name: x})[self._output_name]
        return processing.yolov8_to_detections(out, box, rgb.shape[:2], params, self._labels)


class SsdOpenCvEngine(DetectEngine):
    """SSD-MobileNet-v2 COCO (TF Object Detection API frozen graph + OpenCV's text graph) on
    OpenCV DNN. The whole image is stretched to 300x300; output rows are processing.ssd_to_detections'."""

    kind = "cpu"

    def __init__(self, threads: int | None = None):
        self._threads = threads
        self._spec: DetectModelSpec | None = None
        self._labels: tuple[str, ...] = ()

    def load(self, spec: DetectModelSpec, paths: list[Path]) -> None:
        import cv2

        self.unload()
        graph = next((p for p in paths if p.suffix == ".pb"), None)
        text = next((p for p in paths if p.suffix == ".pbtxt"), None)
        if graph is None or text is None:
            raise ValueError(f"{spec.name}: needs a .pb frozen graph and a .pbtxt, got {[p.name for p in paths]}")
        if self._threads:
            # Process-wide in OpenCV; a service process runs one engine kind, so this is its setting.
            cv2.setNumThreads(self._threads)
        if not hasattr(cv2.dnn, "readNetFromTensorflow"):
            raise RuntimeError(
                f"OpenCV {cv2.__version__} has no TensorFlow importer (removed in 5.1), which {spec.name} needs: "
                "pip install 'opencv-python-headless>=4.10,<5.1' (the detect extra pins it)"
            )
        net = cv2.dnn.readNetFromTensorflow(str(graph), str(text))
        h, w = spec.input_size
        # OpenCV builds its layers on the first forward (measured 0.75 s against 0.05 s warm); doing it
        # here makes that part of loading, before the service reports ready, not of the first request.
        net.setInput(cv2.dnn.blobFromImage(np.zeros((h, w, 3), np.uint8), size=(w, h)))
        net.forward()
        self._model, self._spec, self._labels = net, spec, labels_for(spec.labels)

    def detect(self, rgb: np.ndarray, params: DetectParams) -> list[Detection]:
        import cv2

        check_rgb(rgb)
        net, spec = self.held()
        h, w = spec.input_size
        # The TF graph was trained on RGB and our image is RGB already, so no channel swap here
        # (OpenCV's samples pass swapRB=True only because cv2.imread gives BGR). The graph does its
        # own scaling to -1..1, hence no mean or scale factor.
        blob = cv2.dnn.blobFromImage(rgb, scalefactor=1.0, size=(w, h), swapRB=False, crop=False)
        net.setInput(blob)
        out = net.forward()
        return processing.ssd_to_detections(out, rgb.shape[:2], params, self._labels)


def make_cpu_engine(spec: DetectModelSpec, threads: int | None = None) -> DetectEngine:
    """The CPU engine that runs ``spec``'s file, chosen by its layout."""
    if spec.layout == "yolov8":
        return YoloOnnxEngine(threads)
    if spec.layout == "ssd_tf":
        return SsdOpenCvEngine(threads)
    raise ValueError(f"model {spec.name!r}: layout {spec.layout!r} has no CPU engine")

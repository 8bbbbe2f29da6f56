"""HailoRT ``InferModel`` runner on the process's shared VDevice (the vision engines' NPU runtime).

The calls follow HailoRT 5.x's Python API (hailort v5.2.0 ``hailo_platform/pyhailort/pyhailort.py``:
``VDevice.create_infer_model``, ``InferModel``, ``ConfiguredInferModel``) the way hailo-apps' ``HailoInfer``
(``hailo_apps/python/core/common/hailo_inference.py``) uses them: configure once, then per frame a
``Bindings`` with preallocated output buffers, ``wait_for_async_ready``, ``run_async``, ``job.wait``.
Input is UINT8 NHWC (our pre-processing produces uint8 frames), or FLOAT32 for a network whose input is
not an image (CLIP's text encoder takes token embeddings; HailoRT quantises them); outputs are FLOAT32, de-quantised by
HailoRT, or UINT8 de-quantised here with each output's ``quant_infos`` when ``output_format="uint8"``.

NMS output (HAILO_NMS_BY_CLASS, e.g. yolov8 HEFs with NMS in the HEF): ``InferStream.shape`` is flat,
``num_classes * (1 + 5 * max_bboxes_per_class)`` float32 values (bindings_common.hpp ``get_pybind_shape``,
hailort_common.hpp ``get_nms_by_class_host_shape_size``): per class a count followed by that many boxes
``[y_min, x_min, y_max, x_max, score]``, class after class. ``Bindings.output(name).get_buffer()`` (with
the default ``tf_format=False``) decodes it into a list with one ``(n, 5)`` array per class
(``HailoRTTransformUtils.output_raw_buffer_to_nms_format_single_frame``); coordinates are normalised
0..1 to the network input. hailo-apps reads it the same way: ``for class_id, detection in
enumerate(detections): for det in detection: bbox, score = det[:4], det[4]``
(``hailo_apps/python/standalone_apps/object_detection/object_detection_post_process.py``,
``extract_detections``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .hailo_device import acquire_vdevice, release_vdevice

log = logging.getLogger("hailo_services")

BBOX_PARAMS = 5  # y_min, x_min, y_max, x_max, score
Output = np.ndarray | list[np.ndarray]


@dataclass(frozen=True)
class NmsSettings:
    """HailoRT's host-side NMS parameters (set on NMS outputs before configure())."""

    score_threshold: float = 0.25
    iou_threshold: float = 0.45
    max_proposals_per_class: int = 100


@dataclass(frozen=True)
class NmsDetection:
    """One box of an NMS output; coordinates normalised 0..1 to the network input."""

    class_id: int
    score: float
    y_min: float
    x_min: float
    y_max: float
    x_max: float

    def xyxy(self, width: float, height: float) -> tuple[float, float, float, float]:
        """The box in network-input pixels as (x1, y1, x2, y2), ready for ``Letterbox.boxes_to_source``."""
        return (self.x_min * width, self.y_min * height, self.x_max * width, self.y_max * height)


def _split_nms_buffer(flat: np.ndarray, num_classes: int) -> list[np.ndarray]:
    # The raw HAILO_NMS_BY_CLASS layout (see the module doc), as pyhailort decodes it.
    flat = np.asarray(flat, dtype=np.float32).reshape(-1)
    out: list[np.ndarray] = []
    offset = 0
    for class_id in range(num_classes):
        if offset >= flat.size:
            raise ValueError(f"NMS buffer ends before class {class_id} of {num_classes}")
        count = flat[offset]
        if count < 0 or count != int(count) or offset + 1 + BBOX_PARAMS * int(count) > flat.size:
            raise ValueError(f"NMS buffer has an invalid box count {count} for class {class_id}")
        offset += 1
        n = int(count)
        out.append(flat[offset : offset + BBOX_PARAMS * n].reshape(n, BBOX_PARAMS))
        offset += BBOX_PARAMS * n
    return out


def parse_nms_by_class(output: Output, num_classes: int, *, min_score: float = 0.0) -> list[NmsDetection]:
    """Detections of one frame's HAILO_NMS_BY_CLASS output, best score first.

    ``output`` is what ``get_buffer()`` returns (a list of one ``(n, 5)`` array per class) or the raw
    flat float32 buffer (``get_buffer(None)``).
    """
    if isinstance(output, np.ndarray) and output.dtype != object and output.ndim == 1:
        per_class = _split_nms_buffer(output, num_classes)
    else:
        per_class = list(output)
    if len(per_class) != num_classes:
        raise ValueError(f"NMS output has {len(per_class)} classes, expected {num_classes}")
    detections = []
    for class_id, boxes in enumerate(per_class):
        rows = np.asarray(boxes, dtype=np.float32).reshape(-1, BBOX_PARAMS)
        for y_min, x_min, y_max, x_max, score in rows.tolist():
            if score >= min_score:
                detections.append(NmsDetection(class_id, score, y_min, x_min, y_max, x_max))
    detections.sort(key=lambda d: d.score, reverse=True)
    return detections


def dequantize(raw: np.ndarray, quant_infos: Sequence[Any]) -> np.ndarray:
    """``(raw - qp_zp) * qp_scale`` as float32; one quant info for the tensor or one per channel (last axis)."""
    if len(quant_infos) == 1:
        q = quant_infos[0]
        return ((raw.astype(np.float32) - np.float32(q.qp_zp)) * np.float32(q.qp_scale)).astype(np.float32)
    if raw.ndim and len(quant_infos) == raw.shape[-1]:
        zp = np.array([q.qp_zp for q in quant_infos], dtype=np.float32)
        scale = np.array([q.qp_scale for q in quant_infos], dtype=np.float32)
        return ((raw.astype(np.float32) - zp) * scale).astype(np.float32)
    raise RuntimeError(f"{len(quant_infos)} quant infos do not fit an output of shape {raw.shape}")


def _is_timeout(exc: BaseException) -> bool:
    # HailoRTTimeout lives in hailo_platform.pyhailort.pyhailort and is not exported at the top level.
    return any(cls.__name__ == "HailoRTTimeout" for cls in type(exc).__mro__)


class HailoModel:
    """One HEF configured on the shared VDevice; ``run`` one batch at a time (a lock per model).

    The service's per-model queue already serialises requests; the lock keeps a stray concurrent call
    from interleaving bindings on the same ConfiguredInferModel.
    """

    def __init__(
        self,
        hef_path: str | Path,
        *,
        group_id: str = "SHARED",
        batch_size: int = 1,
        output_format: Literal["float32", "uint8"] = "float32",
        nms: NmsSettings | None = None,
        timeout_ms: int = 10000,
        input_format: Literal["uint8", "float32"] = "uint8",
    ):
        from hailo_platform import FormatType, HailoRTException

        if output_format not in ("float32", "uint8"):
            raise ValueError(f"output_format must be 'float32' or 'uint8', not {output_format!r}")
        if input_format not in ("uint8", "float32"):
            raise ValueError(f"input_format must be 'uint8' or 'float32', not {input_format!r}")
        self.input_format = input_format
        self._input_dtype = np.dtype(np.uint8 if input_format == "uint8" else np.float32)
        self.hef_path = Path(hef_path)
        self.name = self.hef_path.name
        self.timeout_ms = timeout_ms
        self.output_format = output_format
        self._hailort_error: type[BaseException] = HailoRTException
        self._lock = threading.Lock()
        self._closed = False
        self._config_ctx: Any = None
        self._configured: Any = None
        self._infer_model: Any = None
        self._last_job: Any = None
        self._vdevice: Any = None
        try:
            self._vdevice = acquire_vdevice(group_id)
        except HailoRTException as exc:
            raise RuntimeError(f"cannot open the Hailo device (group {group_id!r}): {exc}") from exc
        try:
            self._configure(FormatType, batch_size, nms)
        except BaseException as exc:
            self._teardown()
            if isinstance(exc, HailoRTException):
                raise RuntimeError(f"cannot configure HEF {self.hef_path}: {exc}") from exc
            raise

    def _configure(self, format_type: Any, batch_size: int, nms: NmsSettings | None) -> None:
        model = self._vdevice.create_infer_model(str(self.hef_path))
        self._infer_model = model
        model.set_batch_size(batch_size)
        inputs = model.inputs
        if len(inputs) != 1:
            raise RuntimeError(f"{self.hef_path}: {len(inputs)} inputs; HailoModel runs single-input networks")
        stream = inputs[0]
        self.input_name: str = stream.name
        self.input_shape: tuple[int, ...] = tuple(stream.shape)
        if len(self.input_shape) != 3:
            raise RuntimeError(f"{self.hef_path}: input shape {list(self.input_shape)} is not H x W x C")
        stream.set_format_type(format_type.UINT8 if self.input_format == "uint8" else format_type.FLOAT32)
        self.output_names: list[str] = []
        self.output_shapes: dict[str, tuple[int, ...]] = {}
        self.nms_outputs: list[str] = []
        self._dtypes: dict[str, Any] = {}
        self._quant: dict[str, list[Any]] = {}
        for out in model.outputs:
            name = out.name
            if out.is_nms:
                # NMS results are boxes and scores in float; HailoRT fills the flat NMS_BY_CLASS layout.
                out.set_format_type(format_type.FLOAT32)
                if nms is not None:
                    out.set_nms_score_threshold(nms.score_threshold)
                    out.set_nms_iou_threshold(nms.iou_threshold)
                    out.set_nms_max_proposals_per_class(nms.max_proposals_per_class)
                self.nms_outputs.append(name)
                self._dtypes[name] = np.float32
            elif self.output_format == "uint8":
                out.set_format_type(format_type.UINT8)
                self._quant[name] = list(out.quant_infos)
                self._dtypes[name] = np.uint8
            else:
                out.set_format_type(format_type.FLOAT32)
                self._dtypes[name] = np.float32
            self.output_names.append(name)
            self.output_shapes[name] = tuple(out.shape)
        self._config_ctx = model.configure()
        self._configured = self._config_ctx.__enter__()
        try:
            self._queue_size = max(1, int(self._configured.get_async_queue_size()))
        except (AttributeError, TypeError, ValueError):
            self._queue_size = 1

    def _check_frames(self, frames: Sequence[np.ndarray]) -> None:
        if not frames:
            raise ValueError("run() needs at least one frame")
        for i, frame in enumerate(frames):
            shape, dtype = getattr(frame, "shape", None), getattr(frame, "dtype", type(frame).__name__)
            if (
                not isinstance(frame, np.ndarray)
                or frame.dtype != self._input_dtype
                or tuple(frame.shape) != self.input_shape
            ):
                raise ValueError(
                    f"{self.name}: frame {i} is {dtype} {shape}; the network takes {self._input_dtype} "
                    f"{self.input_shape} (H, W, C) on {self.input_name!r}"
                )

    def run(self, frames: Sequence[np.ndarray]) -> list[dict[str, Output]]:
        """Infer ``frames`` (each H x W x C, uint8 or the ``input_format``); per frame, outputs by name.

        A regular output is a float32 array of its shape; an NMS output is HailoRT's list of one (n, 5)
        array per class (see :func:`parse_nms_by_class`). Raises TimeoutError past ``timeout_ms`` and
        RuntimeError for a HailoRT failure.
        """
        self._check_frames(frames)
        with self._lock:
            if self._closed:
                raise RuntimeError(f"{self.name}: model is closed")
            results: list[dict[str, Output]] = []
            # wait_for_async_ready times out when asked for more frames than the async queue holds.
            for start in range(0, len(frames), self._queue_size):
                results.extend(self._run_chunk(frames[start : start + self._queue_size]))
            return results

    def _run_chunk(self, frames: Sequence[np.ndarray]) -> list[dict[str, Output]]:
        configured = self._configured
        errors: list[BaseException] = []

        def on_done(completion_info: Any) -> None:
            if completion_info.exception is not None:
                errors.append(completion_info.exception)

        try:
            bindings_list = []
            for frame in frames:
                buffers = {n: np.empty(self.output_shapes[n], dtype=self._dtypes[n]) for n in self.output_names}
                bindings = configured.create_bindings(output_buffers=buffers)
                bindings.input(self.input_name).set_buffer(np.ascontiguousarray(frame))
                bindings_list.append(bindings)
            configured.wait_for_async_ready(timeout_ms=self.timeout_ms, frames_count=len(bindings_list))
            job = configured.run_async(bindings_list, on_done)
            self._last_job = job
            job.wait(self.timeout_ms)
            self._last_job = None
        except self._hailort_error as exc:
            if _is_timeout(exc):
                raise TimeoutError(f"{self.name}: inference did not finish within {self.timeout_ms} ms") from exc
            raise RuntimeError(f"HailoRT inference failed on {self.name}: {exc}") from exc
        if errors:
            raise RuntimeError(f"HailoRT inference failed on {self.name}: {errors[0]}") from errors[0]
        results = []
        for bindings in bindings_list:
            frame_out: dict[str, Output] = {}
            for name in self.output_names:
                value = bindings.output(name).get_buffer()
                if name in self._quant:
                    value = dequantize(value, self._quant[name])
                frame_out[name] = value
            results.append(frame_out)
        return results

    def _teardown(self) -> None:
        # Order matters: the configured model goes before the VDevice it runs on (HailoRT requires it).
        job, self._last_job = self._last_job, None
        if job is not None:
            try:
                job.wait(self.timeout_ms)  # a timed-out job still owns its buffers until it ends
            except Exception as exc:
                log.warning("%s: pending inference did not end cleanly: %s", self.name, exc)
        configured, ctx = self._configured, self._config_ctx
        self._configured = self._config_ctx = self._infer_model = None
        if configured is not None:
            try:
                configured.shutdown()
            except Exception as exc:
                log.warning("%s: shutdown failed: %s", self.name, exc)
        if ctx is not None:
            ctx.__exit__(None, None, None)
        if self._vdevice is not None:
            self._vdevice = None
            release_vdevice()

    def close(self) -> None:
        """Shut the model down and release this model's hold on the VDevice. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._teardown()

    def __enter__(self) -> HailoModel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

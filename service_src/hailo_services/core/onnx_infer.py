"""onnxruntime on the CPU: the CPU engines' runtime, with feeds checked before onnxruntime sees them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

# onnxruntime's type strings -> numpy dtypes (the ones vision/audio networks use).
_ORT_DTYPES: dict[str, np.dtype] = {
    "tensor(float)": np.dtype(np.float32),
    "tensor(float16)": np.dtype(np.float16),
    "tensor(double)": np.dtype(np.float64),
    "tensor(int8)": np.dtype(np.int8),
    "tensor(uint8)": np.dtype(np.uint8),
    "tensor(int16)": np.dtype(np.int16),
    "tensor(uint16)": np.dtype(np.uint16),
    "tensor(int32)": np.dtype(np.int32),
    "tensor(uint32)": np.dtype(np.uint32),
    "tensor(int64)": np.dtype(np.int64),
    "tensor(uint64)": np.dtype(np.uint64),
    "tensor(bool)": np.dtype(np.bool_),
    "tensor(string)": np.dtype(object),
}

# A dimension is an int when fixed, a str (symbolic, e.g. "batch") or None when dynamic.
Shape = tuple["int | str | None", ...]


def _dtype(ort_type: str) -> np.dtype:
    try:
        return _ORT_DTYPES[ort_type]
    except KeyError:
        raise RuntimeError(f"unsupported ONNX tensor type {ort_type}") from None


def read_zip_member(archive: Path, member: str | None) -> bytes:
    """The bytes of the ONNX file ``member`` inside ``archive`` (see OnnxModel)."""
    import zipfile

    try:
        with zipfile.ZipFile(archive) as zf:
            names = [n for n in zf.namelist() if not n.endswith("/")]
            if member is not None:
                found = [n for n in names if n == member or n.rsplit("/", 1)[-1] == member]
            else:
                found = [n for n in names if n.lower().endswith(".onnx")]
            if len(found) != 1:
                want = repr(member) if member else "one .onnx file"
                raise RuntimeError(f"{archive.name} does not hold {want} (it holds {names[:10]})")
            return zf.read(found[0])
    except (zipfile.BadZipFile, OSError) as exc:
        raise RuntimeError(f"cannot read the archive {archive}: {exc}") from exc


class OnnxModel:
    """One onnxruntime session on CPUExecutionProvider.

    ``threads`` sets intra-op parallelism (None = onnxruntime's default, one thread per core);
    inter-op is 1 with sequential execution, since vision graphs are a single chain and a second pool
    only adds threads that compete with the first on a 4-core Pi.

    ``path`` may be a ``.zip`` archive holding the ONNX file, as the Hailo model zoo publishes its
    networks: the member ``member`` (matched by its base name; None = the archive's only ``.onnx``)
    is read from it into memory, so the store keeps the publisher's file as downloaded.
    """

    def __init__(self, path: str | Path, *, threads: int | None = None, member: str | None = None):
        import onnxruntime as ort

        self.path = Path(path)
        if not self.path.is_file():
            raise RuntimeError(f"ONNX model not found: {self.path}")
        source: str | bytes = read_zip_member(self.path, member) if self.path.suffix == ".zip" else str(self.path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or 0  # 0 = onnxruntime decides
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # errors only: warnings about unused initializers are noise in the journal
        try:
            self._session: Any = ort.InferenceSession(source, sess_options=options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidProtobuf/... types
            raise RuntimeError(f"cannot load ONNX model {self.path}: {exc}") from exc
        self.inputs: dict[str, tuple[Shape, np.dtype]] = {
            i.name: (tuple(i.shape), _dtype(i.type)) for i in self._session.get_inputs()
        }
        self.outputs: dict[str, tuple[Shape, np.dtype]] = {
            o.name: (tuple(o.shape), _dtype(o.type)) for o in self._session.get_outputs()
        }
        self.input_names: list[str] = list(self.inputs)
        self.output_names: list[str] = list(self.outputs)

    def _check(self, feeds: dict[str, np.ndarray]) -> None:
        missing = [n for n in self.input_names if n not in feeds]
        unknown = [n for n in feeds if n not in self.inputs]
        if missing or unknown:
            raise ValueError(
                f"{self.path.name}: feeds must be exactly {self.input_names}; missing {missing}, unknown {unknown}"
            )
        for name, array in feeds.items():
            shape, dtype = self.inputs[name]
            if not isinstance(array, np.ndarray):
                raise ValueError(f"{self.path.name}: input {name!r} must be a numpy array, got {type(array).__name__}")
            if array.dtype != dtype:
                raise ValueError(f"{self.path.name}: input {name!r} must be {dtype}, got {array.dtype}")
            if array.ndim != len(shape) or any(
                isinstance(want, int) and want != got for want, got in zip(shape, array.shape, strict=True)
            ):
                raise ValueError(
                    f"{self.path.name}: input {name!r} must have shape {list(shape)}, got {list(array.shape)}"
                )

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the graph; returns every output by name."""
        session = self._session
        if session is None:
            raise RuntimeError(f"ONNX model {self.path} is closed")
        self._check(feeds)
        try:
            results = session.run(self.output_names, feeds)
        except Exception as exc:
            raise RuntimeError(f"onnxruntime failed on {self.path.name}: {exc}") from exc
        return dict(zip(self.output_names, results, strict=True))

    def close(self) -> None:
        """Free the session (its memory goes when the last reference does)."""
        self._session = None

    def __enter__(self) -> OnnxModel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

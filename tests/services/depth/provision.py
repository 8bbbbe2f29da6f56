"""hailo-depth has no packaged CPU weights: tests run it on tiny networks with the zoo's layout
(tests/tiny_models.py DEPTH_TINY), zipped as the zoo ships them and placed at the catalog's file names."""

from __future__ import annotations

from pathlib import Path

from hailo_services.depth.engine import load_catalog
from tiny_models import DEPTH_TINY, depth_zoo_zip


def provision(workdir: Path) -> dict:
    for name, tiny in DEPTH_TINY.items():
        spec = load_catalog().get(name)
        depth_zoo_zip(workdir / "models" / spec.artifact("cpu").file, spec.onnx_member, **tiny)
    return {}

"""hailo-pose has no packaged CPU weights: tests run it on a tiny graph with the real export's
interface, placed where the catalog expects yolov8s_pose's ONNX (tests/tiny_models.py)."""

from __future__ import annotations

from pathlib import Path

from hailo_services.pose.engine import load_catalog
from tiny_models import yolov8_pose_export


def provision(workdir: Path) -> dict:
    artifact = load_catalog().get("yolov8s_pose").artifact("cpu")
    yolov8_pose_export(workdir / "models" / artifact.file)
    return {}

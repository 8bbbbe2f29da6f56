#!/usr/bin/env python3
"""docs/img/depth-coffee.jpg for the README: a photo beside hailo-depth's colour map of it.

    tools/readme_depth_picture.py [--model scdepthv3.zip] [--out docs/img]

The map is made by the CPU engine and the same processing.colorize that ``Accept: image/png`` answers
with. With ``--model`` (the Hailo model zoo's scdepthv3.zip) it is SC-DepthV3's; without, the tiny
test network of tests/tiny_models.py (its "depth" is the pixels' brightness), and the picture says so
in its caption, since no real weights ship with the repository.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from skimage import data

ROOT = Path(__file__).resolve().parents[1]


def caption(rgb: np.ndarray, text: str) -> np.ndarray:
    strip = Image.new("RGB", (rgb.shape[1], 26), (255, 255, 255))
    ImageDraw.Draw(strip).text((6, 5), text, fill=(0, 0, 0), font=ImageFont.load_default(size=14))
    return np.concatenate([rgb, np.asarray(strip)], axis=0)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", type=Path, help="the zoo's scdepthv3.zip (default: the tiny test network)")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    args = p.parse_args()

    from hailo_services.depth import processing
    from hailo_services.depth.cpu import DepthOnnxEngine
    from hailo_services.depth.engine import load_catalog

    spec = load_catalog().get("scdepthv3")
    with tempfile.TemporaryDirectory() as tmp:
        if args.model is not None:
            path, made_by = args.model, "SC-DepthV3 (scdepthv3.zip), CPU engine"
        else:
            sys.path.append(str(ROOT / "tests"))
            from tiny_models import DEPTH_TINY, depth_zoo_zip

            path = depth_zoo_zip(Path(tmp) / "scdepthv3.zip", spec.onnx_member, **DEPTH_TINY["scdepthv3"])
            made_by = "TEST MODEL (tiny stand-in: brightness as nearness), not SC-DepthV3"
        engine = DepthOnnxEngine(threads=2)
        engine.load(spec, [path])
        try:
            for name, rgb in (("coffee", data.coffee()),):
                dm = engine.estimate(rgb)
                colour = processing.colorize(dm.values, dm.quantity, "magma")
                both = np.concatenate([rgb, np.full((rgb.shape[0], 8, 3), 255, np.uint8), colour], axis=1)
                both = caption(both, f"photo | {dm.quantity.name}, nearest brightest (magma) - {made_by}")
                out = args.out / f"depth-{name}.jpg"
                Image.fromarray(both).save(out, quality=85)
                print(f"{out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}: {both.shape[1]}x{both.shape[0]}")
        finally:
            engine.unload()
    return 0


if __name__ == "__main__":
    sys.exit(main())

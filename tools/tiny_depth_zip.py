#!/usr/bin/env python3
"""A stand-in for hailo-depth's CPU model (Molecule; tools/sandbox-deploy without internet access):
the Hailo model zoo's zip with a tiny network of scdepthv3's layout inside.

    tiny_depth_zip.py OUT.zip [MEMBER]     writes OUT.zip and OUT.zip.sha256 (MEMBER: scdepthv3.onnx)

The network is tests/tiny_models.py's depth_network: [1, 3, 256, 320] float32 in, [1, 1, 256, 320]
out, the mean of the normalised channels as the logit, so onnxruntime runs a real graph and brighter
pixels come out nearer. The real zip stays out of CI; the role delivers this file through its
controller cache (hailo_service_model_cache) and checks it against the digest pinned by
hailo_depth_models_extra.
"""

import hashlib
import sys
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1] / "tests"))

from tiny_models import DEPTH_TINY, depth_zoo_zip


def main() -> int:
    out = Path(sys.argv[1])
    member = sys.argv[2] if len(sys.argv) > 2 else "scdepthv3.onnx"
    depth_zoo_zip(out, member, **DEPTH_TINY["scdepthv3"])
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    Path(f"{out}.sha256").write_text(digest + "\n")
    print(f"{out}: {out.stat().st_size} bytes, sha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

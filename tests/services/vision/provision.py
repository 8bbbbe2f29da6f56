"""No package ships a vision-language model: tests run hailo-vision on SmolLM2-135M (packaged, at the
file name of Qwen2-VL's GGUF) with a tiny random Qwen2-VL vision projector of SmolLM2's width
(tests/tiny_models.py). llama.cpp runs the real multimodal path, image tokens and all; the answers are
meaningless, so tests check where things went, not what the model says."""

from __future__ import annotations

from pathlib import Path

from hailo_services.core import model_store
from hailo_services.ollama.catalog import catalog as llm_catalog
from hailo_services.vision.catalog import catalog
from tiny_models import tiny_mmproj

MODEL = "qwen2-vl:2b"


def place_model(models: Path, name: str = MODEL) -> None:
    gguf, mmproj = catalog().get(name).artifacts("cpu")
    smol = llm_catalog().get("smollm2:135m").cpu
    models.mkdir(parents=True, exist_ok=True)
    target = models / gguf.file
    if not target.exists():
        target.symlink_to(model_store.package_path(smol.package, smol.file))
    if not (models / mmproj.file).exists():
        tiny_mmproj(models / mmproj.file)


def provision(workdir: Path) -> dict:
    place_model(workdir / "models")
    # A short context, as hailo-ollama's conformance run has: "as many tokens as fit" ends in seconds.
    return {"num_ctx": 512}

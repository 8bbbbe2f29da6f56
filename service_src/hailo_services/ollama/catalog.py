"""The model catalog (catalog.yaml, shipped in the package) and Ollama-style name resolution."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import yaml

from ..core.model_store import Artifact, PackageSource


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    family: str
    parameter_size: str
    quantization: str
    context_length: int
    license: str
    stop: tuple[str, ...]
    defaults: dict[str, Any] = field(default_factory=dict)
    hailo: Artifact | None = None
    cpu: Artifact | None = None

    def artifact(self, engine: str) -> Artifact | None:
        return self.hailo if engine == "hailo" else self.cpu


def _artifact(raw: dict[str, Any] | None) -> Artifact | None:
    if not raw:
        return None
    raw = dict(raw)
    pkg = raw.pop("package", None)
    return Artifact(package=PackageSource(**pkg) if pkg else None, **raw)


@cache
def load_catalog() -> dict[str, ModelSpec]:
    text = resources.files(__package__).joinpath("catalog.yaml").read_text(encoding="utf-8")
    out: dict[str, ModelSpec] = {}
    for name, raw in yaml.safe_load(text)["models"].items():
        raw = dict(raw)
        out[name] = ModelSpec(
            name=name,
            description=raw["description"],
            family=raw["family"],
            parameter_size=raw["parameter_size"],
            quantization=raw["quantization"],
            context_length=raw["context_length"],
            license=raw["license"],
            stop=tuple(raw.get("stop", ())),
            defaults=raw.get("defaults", {}),
            hailo=_artifact(raw.get("hailo")),
            cpu=_artifact(raw.get("cpu")),
        )
    return out


def resolve_name(name: str, catalog: dict[str, ModelSpec] | None = None) -> ModelSpec | None:
    """Ollama's rules: an exact ``name:tag``; ``name`` alone means ``name:latest``, which we take to be
    the only tag of that name when there is one."""
    catalog = catalog or load_catalog()
    name = name.strip()
    if name in catalog:
        return catalog[name]
    base, _, tag = name.partition(":")
    if tag in ("", "latest"):
        matches = [spec for key, spec in catalog.items() if key.partition(":")[0] == base]
        if len(matches) == 1:
            return matches[0]
    return None

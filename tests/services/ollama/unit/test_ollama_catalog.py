"""The shipped model catalog and Ollama-style name resolution."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from hailo_services.core.model_store import Artifact, locate, package_path
from hailo_services.ollama.catalog import ModelSpec, load_catalog, resolve_name

HEX64 = re.compile(r"^[0-9a-f]{64}$")


def _artifacts() -> list[tuple[str, str, Artifact]]:
    out = []
    for name, spec in load_catalog().items():
        for engine in ("hailo", "cpu"):
            art = spec.artifact(engine)
            if art is not None:
                out.append((name, engine, art))
    return out


def test_all_models_load():
    catalog = load_catalog()
    assert {"smollm2:135m", "qwen2.5-instruct:1.5b", "qwen2:1.5b", "llama3.2:3b"} <= set(catalog)
    for name, spec in catalog.items():
        assert isinstance(spec, ModelSpec)
        assert spec.name == name
        assert ":" in name, f"{name} is not name:tag"
        assert spec.context_length > 0
        assert spec.stop, f"{name} has no stop strings"
        assert spec.cpu is not None or spec.hailo is not None


@pytest.mark.parametrize(("name", "engine", "art"), _artifacts(), ids=lambda v: v if isinstance(v, str) else "")
def test_downloadable_artifacts_are_pinned(name, engine, art):
    assert art.file and "/" not in art.file
    if art.package is not None:
        assert art.sha256 and HEX64.match(art.sha256)
        return
    assert art.url and art.url.startswith("https://"), f"{name}/{engine} has no https url"
    assert art.sha256 or art.sha256_url, f"{name}/{engine} is neither pinned by sha256 nor sha256_url"
    if art.sha256:
        assert HEX64.match(art.sha256)
    if art.sha256_url:
        assert art.sha256_url.startswith("https://")


def test_hailo_artifacts_have_npu_footprint():
    hailo = [(n, a) for n, e, a in _artifacts() if e == "hailo"]
    assert hailo, "the catalog has no Hailo artifacts"
    for name, art in hailo:
        assert isinstance(art.npu_footprint_mb, int) and art.npu_footprint_mb > 0, name
        assert art.file.endswith(".hef"), name


def test_cpu_artifacts_are_gguf():
    for name, engine, art in _artifacts():
        if engine == "cpu":
            assert art.file.endswith(".gguf"), name


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("smollm2", "smollm2:135m"),
        ("smollm2:latest", "smollm2:135m"),
        ("smollm2:135m", "smollm2:135m"),
        ("  smollm2:135m  ", "smollm2:135m"),
        ("qwen2", "qwen2:1.5b"),
        ("llama3.2", "llama3.2:3b"),
        ("qwen2.5-coder:latest", "qwen2.5-coder:1.5b"),
    ],
)
def test_names_resolve(query, expected):
    spec = resolve_name(query)
    assert spec is not None
    assert spec.name == expected


@pytest.mark.parametrize("query", ["nope", "smollm2:7b", "nope:latest", "", "qwen2.5", "smollm"])
def test_unknown_names_do_not_resolve(query):
    assert resolve_name(query) is None


def test_bare_name_is_ambiguous_with_two_tags():
    catalog = dict(load_catalog())
    base = catalog["smollm2:135m"]
    catalog["smollm2:360m"] = ModelSpec(**{**base.__dict__, "name": "smollm2:360m"})
    assert resolve_name("smollm2", catalog) is None
    assert resolve_name("smollm2:360m", catalog).name == "smollm2:360m"


def test_packaged_smollm2_matches_its_pin(tmp_path: Path):
    art = load_catalog()["smollm2:135m"].cpu
    assert art is not None and art.package is not None
    path = package_path(art.package, art.file)
    assert path is not None, f"{art.package.module} does not ship {art.file}"
    assert locate(tmp_path, art) == path
    assert path.stat().st_size == art.size
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    assert h.hexdigest() == art.sha256

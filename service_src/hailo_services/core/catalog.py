"""One catalog schema for every service: ``<service>/catalog.yaml`` maps a model name to its files per engine.

```yaml
models:
  yolov8s:                       # the name clients and settings use
    description: YOLOv8s, COCO-80
    license: AGPL-3.0
    aliases: [yolov8]            # other names that resolve to it (optional)
    # ...fields of the service's own (labels, input size, ...): a service subclasses ModelSpec
    hailo:                       # one file (a mapping) or several (a list); the first is the main one
      file: yolov8s.hef
      url: https://...
      sha256: <64 hex> | sha256_url: https://.../x.sha256
      npu_footprint_mb: 30
    cpu:
      - {file: graph.pb, sha256: ..., package: {name: pkg, version: 1.0, module: pkg_mod, path: models/graph.pb}}
```

The Ansible role ``hailo_service`` reads the same file on the controller to fetch the files of the
configured models, check model names and declare the NPU footprint, so there is no second copy.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, ClassVar, Generic, TypeVar

import yaml

from .model_store import Artifact, PackageSource

ENGINES = ("hailo", "cpu")


@dataclass(frozen=True)
class ModelSpec:
    """A catalog entry. Services subclass it (a frozen dataclass) to add their own fields."""

    name: str
    description: str = ""
    license: str = ""
    aliases: tuple[str, ...] = ()
    files: dict[str, tuple[Artifact, ...]] = field(default_factory=dict)

    def artifacts(self, engine: str) -> tuple[Artifact, ...]:
        return self.files.get(engine, ())

    def artifact(self, engine: str) -> Artifact | None:
        """The main file for ``engine`` (the first), or None when the engine cannot run this model."""
        files = self.artifacts(engine)
        return files[0] if files else None

    def npu_footprint_mb(self) -> int:
        return sum(a.npu_footprint_mb or 0 for a in self.artifacts("hailo"))


def parse_artifacts(raw: Any) -> tuple[Artifact, ...]:
    if not raw:
        return ()
    items = raw if isinstance(raw, list) else [raw]
    out = []
    for item in items:
        item = dict(item)
        pkg = item.pop("package", None)
        out.append(Artifact(package=PackageSource(**pkg) if pkg else None, **item))
    return tuple(out)


S = TypeVar("S", bound=ModelSpec)


class Catalog(Generic[S]):
    """The models of one service, with name resolution.

    ``resolve`` follows Ollama's rules, which every service uses: an exact name; an alias; ``name``
    alone or ``name:latest`` means the one entry whose name before the colon is ``name``.
    """

    spec_class: ClassVar[type[ModelSpec]] = ModelSpec

    def __init__(self, models: dict[str, S]):
        self.models = models

    @classmethod
    def from_yaml(cls, text: str) -> Catalog[S]:
        data = yaml.safe_load(text) or {}
        known = {f.name for f in dataclasses.fields(cls.spec_class)}
        models: dict[str, Any] = {}
        for name, raw in (data.get("models") or {}).items():
            raw = dict(raw or {})
            files = {engine: parse_artifacts(raw.pop(engine, None)) for engine in ENGINES}
            unknown = set(raw) - known
            if unknown:
                raise ValueError(f"catalog entry {name!r}: unknown field(s) {', '.join(sorted(unknown))}")
            for key, value in raw.items():
                if isinstance(value, list):
                    raw[key] = tuple(value)
            models[str(name)] = cls.spec_class(name=str(name), files={k: v for k, v in files.items() if v}, **raw)
        return cls(models)

    @classmethod
    def load_package(cls, package: str) -> Catalog[S]:
        """The ``catalog.yaml`` shipped inside ``package`` (e.g. ``hailo_services.detect``)."""
        return cls.from_yaml(resources.files(package).joinpath("catalog.yaml").read_text(encoding="utf-8"))

    def names(self) -> list[str]:
        return sorted(self.models)

    def values(self) -> list[S]:
        return list(self.models.values())

    def get(self, name: str) -> S | None:
        return self.models.get(name)

    def resolve(self, name: str) -> S | None:
        name = name.strip()
        if name in self.models:
            return self.models[name]
        for spec in self.models.values():
            if name in spec.aliases:
                return spec
        base, _, tag = name.partition(":")
        if tag in ("", "latest"):
            matches = [spec for key, spec in self.models.items() if key.partition(":")[0] == base]
            if len(matches) == 1:
                return matches[0]
        return None

"""The registry of services, read from ``services.yaml`` (each service's identity, written once).

A service's code lives in ``hailo_services.<package>``: ``settings.py`` defines ``Settings`` and
``app.py`` defines ``create_app(settings, *, exit_on_load_failure=False)``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml


@dataclass(frozen=True)
class ServiceInfo:
    name: str
    port: int
    extra: str
    package: str
    description: str
    default_model: dict[str, str]  # engine -> catalog name
    cpu_modules: tuple[str, ...]  # imports the CPU engine needs
    memory_max: str
    npu: bool

    @property
    def module(self) -> str:
        return f"hailo_services.{self.package}"

    def settings_class(self) -> Any:
        return importlib.import_module(f"{self.module}.settings").Settings

    def app_factory(self) -> Any:
        return importlib.import_module(f"{self.module}.app").create_app


@cache
def load_services() -> dict[str, ServiceInfo]:
    raw = yaml.safe_load(resources.files(__package__).joinpath("services.yaml").read_text(encoding="utf-8"))
    out = {}
    for name, entry in raw["services"].items():
        out[name] = ServiceInfo(
            name=name,
            port=int(entry["port"]),
            extra=entry["extra"],
            package=entry["package"],
            description=entry["description"],
            default_model=dict(entry["default_model"]),
            cpu_modules=tuple(entry.get("cpu_modules", ())),
            memory_max=str(entry.get("memory_max", "1G")),
            npu=bool(entry.get("npu", True)),
        )
    return out


SERVICES: dict[str, ServiceInfo] = load_services()


def get(name: str) -> ServiceInfo:
    key = name if name.startswith("hailo-") else f"hailo-{name}"
    try:
        return SERVICES[key]
    except KeyError:
        raise KeyError(f"unknown service {name!r}; known: {', '.join(SERVICES)}") from None

"""Service settings: a YAML file (templated by the Ansible role), overridden by environment variables.

Every service subclasses :class:`ServiceSettings`. Unknown keys are errors, so a typo in
``/etc/hailo/<service>.yaml`` fails at start (and in ``check-config``) instead of being ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from .catalog import Catalog
from .keep_alive import parse_keep_alive


class ConfigError(Exception):
    """A config file that cannot be used; the message names the offending key."""


class HailoDeviceSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Processes that open their VDevice with the same non-UNIQUE group id share the Hailo-10H.
    group_id: str = "SHARED"
    device: Path = Path("/dev/hailo0")


EngineChoice = Literal["auto", "cpu", "hailo"]


class ImageInputSettings(BaseModel):
    """How vision services take images (core/images.py)."""

    model_config = ConfigDict(extra="forbid")

    # Decoded size limit: a small PNG can claim 20000x20000 pixels (a decompression bomb) -> 413.
    max_pixels: int = Field(default=40_000_000, gt=0, description="largest decoded image, in pixels")
    # Remote image URLs (JSON "image": "https://...") are off by default (SSRF).
    allow_remote: bool = False
    allow_private_networks: bool = Field(
        default=False, description="let remote URLs reach loopback, link-local and private addresses"
    )
    remote_timeout_s: float = Field(default=10.0, gt=0)


class AudioInputSettings(BaseModel):
    """How speech services take audio (core/audio.py). The byte limit is the service's max_body_bytes."""

    model_config = ConfigDict(extra="forbid")

    # An hour of silence is a few hundred KB of FLAC: the duration, not the size, bounds the work -> 413.
    max_duration_s: float = Field(default=600.0, gt=0, le=86_400, description="longest audio taken, in seconds")


class WyomingSettings(BaseModel):
    """A Wyoming server beside the HTTP API (core/wyoming.py), for Home Assistant."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    host: str | None = Field(default=None, description="address to bind; null = the service's own host")
    port: int = Field(default=0, ge=0, le=65535, description="0 = the service's default Wyoming port")
    # mDNS (_wyoming._tcp) so Home Assistant finds the server by itself; it announces on the network,
    # so it is off unless asked for (the Ansible roles turn it on).
    zeroconf: bool = False
    zeroconf_name: str | None = Field(default=None, description="the announced name; null = <service>-<hostname>")
    max_event_bytes: int = Field(
        default=4 * 1024 * 1024, gt=0, description="largest data + payload of one event (an audio chunk)"
    )
    idle_timeout_s: float = Field(default=300.0, gt=0, description="a connection silent this long is closed")


class ServiceSettings(BaseSettings):
    """Settings every service has. Subclasses set ``service_name`` (its key in services.yaml, where its
    port and default models are) and add their own keys."""

    service_name: ClassVar[str] = "hailo-service"
    default_port: ClassVar[int] = 8000

    model_config = SettingsConfigDict(extra="forbid", env_nested_delimiter="__", validate_default=True)

    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535, description="0 = the service's default port")
    engine: EngineChoice = "auto"
    api_key: SecretStr | None = None
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"
    max_body_bytes: int = Field(default=8 * 1024 * 1024, gt=0)
    body_timeout_s: float = Field(default=60.0, gt=0, description="longest a client may take to send a body (408)")
    queue_max_waiting: int = Field(default=16, ge=0, description="requests waiting per model before 503")
    queue_timeout_s: float = Field(default=120.0, gt=0, description="longest wait in the queue before 504")
    request_timeout_s: float = Field(default=600.0, gt=0, description="longest generation before 504")
    models_dir: Path = Path("/var/lib/hailo-services/models")
    state_dir: Path | None = None
    hailo: HailoDeviceSettings = Field(default_factory=HailoDeviceSettings)
    threads: int | None = Field(default=None, ge=1, le=64, description="CPU engine threads (null = all cores)")

    # Model lifecycle (core/models.py)
    model: str | None = Field(default=None, description="default model; null = the service's default for the engine")
    keep_alive: str | int | float = Field(default=-1, description="Ollama duration an idle model stays; -1 = forever")
    max_loaded_models: int = Field(default=1, ge=1, le=8)
    preload: bool = Field(default=True, description="load the default model at start (ready only once loaded)")
    allow_pull: bool = Field(default=True, description="let clients download catalog models (sha256-pinned)")

    # Set by from_file(); pydantic-settings reads it through settings_customise_sources.
    _yaml_data: ClassVar[dict[str, Any]] = {}

    @field_validator("keep_alive", mode="before")
    @classmethod
    def _duration(cls, value: object) -> object:
        # "before": YAML true/false would otherwise become 1/0 seconds.
        parse_keep_alive(value)  # type: ignore[arg-type]
        return value

    @field_validator("model")
    @classmethod
    def _known_model(cls, value: str | None) -> str | None:
        catalog = cls.catalog()
        if value is None or catalog is None:
            return value
        spec = catalog.resolve(value)
        if spec is None:
            raise ValueError(f"unknown model {value!r}; known: {', '.join(catalog.names())}")
        return spec.name

    @classmethod
    def catalog(cls) -> Catalog | None:
        """The service's model catalog (services set it); used to check ``model``."""
        return None

    @classmethod
    def registry_entry(cls) -> Any:
        """This service's entry in services.yaml (port, default models...), or None for a bare ServiceSettings."""
        from ..services import SERVICES

        return SERVICES.get(cls.service_name)

    @property
    def effective_port(self) -> int:
        info = self.registry_entry()
        return self.port or (info.port if info else self.default_port)

    def model_for(self, engine: str) -> str:
        """The default model: the configured one, else the service's default for ``engine``."""
        if self.model:
            return self.model
        info = self.registry_entry()
        if info is None or engine not in info.default_model:
            raise ValueError(f"{self.service_name}: no model configured and no default for the {engine} engine")
        return info.default_model[engine]

    @property
    def effective_state_dir(self) -> Path:
        return self.state_dir or Path("/var/lib") / self.service_name

    @classmethod
    def env_prefix(cls) -> str:
        return cls.service_name.upper().replace("-", "_") + "_"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Order = precedence: explicit arguments (the CLI), then environment, then the YAML file.
        return (init_settings, env_settings, _DictSource(settings_cls, cls._yaml_data))

    @classmethod
    def load(cls, path: Path | str | None = None, **overrides: Any):
        """Build settings from ``path`` (optional), the environment and ``overrides``.

        Raises :class:`ConfigError` with the offending key named.
        """
        data: dict[str, Any] = {}
        if path is not None:
            data = read_yaml(Path(path))
        # A subclass per call keeps concurrent loads (tests) from seeing each other's files.
        bound = type(cls.__name__, (cls,), {"_yaml_data": data})
        bound.model_config = SettingsConfigDict(
            **{**cls.model_config, "env_prefix": cls.env_prefix()}  # type: ignore[typeddict-item]
        )
        try:
            return bound(**{k: v for k, v in overrides.items() if v is not None})
        except ValidationError as exc:
            raise ConfigError(describe_validation_error(exc, path)) from None


class _DictSource(PydanticBaseSettingsSource):
    def __init__(self, settings_cls: type[BaseSettings], data: dict[str, Any]):
        super().__init__(settings_cls)
        self._data = data

    def get_field_value(self, field, field_name):  # pragma: no cover - __call__ is used instead
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._data)


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of settings, got {type(data).__name__}")
    return data


def describe_validation_error(exc: ValidationError, path: Path | str | None) -> str:
    where = f"{path}: " if path else ""
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        if err["type"] == "extra_forbidden":
            lines.append(f"{where}unknown setting '{key}'")
        else:
            value = err.get("input")
            shown = "" if isinstance(value, dict) else f" (got {value!r})"
            lines.append(f"{where}invalid value for '{key}': {err['msg']}{shown}")
    return "\n".join(lines)

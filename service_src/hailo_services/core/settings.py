"""Service settings: a YAML file (templated by the Ansible role), overridden by environment variables.

Every service subclasses :class:`ServiceSettings`. Unknown keys are errors, so a typo in
``/etc/hailo/<service>.yaml`` fails at start (and in ``check-config``) instead of being ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict


class ConfigError(Exception):
    """A config file that cannot be used; the message names the offending key."""


class HailoDeviceSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Processes that open their VDevice with the same non-UNIQUE group id share the Hailo-10H.
    group_id: str = "SHARED"
    device: Path = Path("/dev/hailo0")


EngineChoice = Literal["auto", "cpu", "hailo"]


class ServiceSettings(BaseSettings):
    """Settings every service has. Subclasses add their own and set ``service_name``/``default_port``."""

    service_name: ClassVar[str] = "hailo-service"
    default_port: ClassVar[int] = 8000

    model_config = SettingsConfigDict(extra="forbid", env_nested_delimiter="__", validate_default=True)

    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535, description="0 = the service's default port")
    engine: EngineChoice = "auto"
    api_key: SecretStr | None = None
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"
    max_body_bytes: int = Field(default=8 * 1024 * 1024, gt=0)
    queue_max_waiting: int = Field(default=16, ge=0, description="requests waiting per model before 503")
    queue_timeout_s: float = Field(default=120.0, gt=0, description="longest wait in the queue before 504")
    request_timeout_s: float = Field(default=600.0, gt=0, description="longest generation before 504")
    models_dir: Path = Path("/var/lib/hailo-services/models")
    state_dir: Path | None = None
    hailo: HailoDeviceSettings = Field(default_factory=HailoDeviceSettings)

    # Set by from_file(); pydantic-settings reads it through settings_customise_sources.
    _yaml_data: ClassVar[dict[str, Any]] = {}

    @property
    def effective_port(self) -> int:
        return self.port or self.default_port

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

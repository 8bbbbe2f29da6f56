"""Settings: defaults, YAML file, env overrides, explicit overrides, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from hailo_services.core.settings import ConfigError, HailoDeviceSettings, ServiceSettings, read_yaml
from hailo_services.ollama.catalog import load_catalog
from hailo_services.ollama.settings import OllamaSettings


def write(tmp_path: Path, text: str, name: str = "hailo-ollama.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# -- defaults ----------------------------------------------------------------------------------


def test_core_defaults():
    s = ServiceSettings.load()
    assert s.host == "127.0.0.1"
    assert s.port == 0
    assert s.effective_port == ServiceSettings.default_port == 8000
    assert s.engine == "auto"
    assert s.api_key is None
    assert s.log_level == "info"
    assert s.max_body_bytes == 8 * 1024 * 1024
    assert s.queue_max_waiting == 16
    assert s.queue_timeout_s == 120.0
    assert s.models_dir == Path("/var/lib/hailo-services/models")
    assert s.effective_state_dir == Path("/var/lib/hailo-service")
    assert s.hailo == HailoDeviceSettings(group_id="SHARED", device=Path("/dev/hailo0"))


def test_ollama_defaults():
    s = OllamaSettings.load()
    assert s.effective_port == 11434
    assert s.model is None  # the service's default for the engine (services.yaml)
    assert s.model_for("cpu") == "smollm2:135m" and s.model_for("hailo") == "qwen2.5-instruct:1.5b"
    assert s.keep_alive == "5m"
    assert s.num_ctx == 2048
    assert s.threads is None
    assert s.preload is True
    assert s.allow_pull is True
    assert s.max_loaded_models == 1
    assert s.effective_state_dir == Path("/var/lib/hailo-ollama")
    assert OllamaSettings.env_prefix() == "HAILO_OLLAMA_"


def test_api_key_is_secret():
    s = OllamaSettings.load(api_key="hunter2")
    assert s.api_key.get_secret_value() == "hunter2"
    assert "hunter2" not in repr(s)


# -- sources and precedence --------------------------------------------------------------------


def test_yaml_file_load(tmp_path):
    path = write(
        tmp_path,
        "host: 0.0.0.0\nport: 12345\nengine: cpu\nmodel: smollm2\nkeep_alive: -1\n"
        "num_ctx: 4096\nhailo:\n  group_id: FILE\n  device: /dev/hailo7\nmodels_dir: /srv/models\n",
    )
    s = OllamaSettings.load(path)
    assert s.host == "0.0.0.0"
    assert s.port == s.effective_port == 12345
    assert s.engine == "cpu"
    assert s.model == "smollm2:135m"  # normalised to the catalog name
    assert s.keep_alive == -1
    assert s.num_ctx == 4096
    assert s.hailo.group_id == "FILE"
    assert s.hailo.device == Path("/dev/hailo7")
    assert s.models_dir == Path("/srv/models")


def test_empty_yaml_file_means_defaults(tmp_path):
    s = OllamaSettings.load(write(tmp_path, "# nothing set\n"))
    assert s.port == 0 and s.model is None


def test_env_beats_file_including_nested(tmp_path, monkeypatch):
    path = write(tmp_path, "port: 12345\nhailo:\n  group_id: FILE\n  device: /dev/hailo7\n")
    monkeypatch.setenv("HAILO_OLLAMA_PORT", "23456")
    monkeypatch.setenv("HAILO_OLLAMA_HAILO__GROUP_ID", "ENV")
    s = OllamaSettings.load(path)
    assert s.port == 23456
    assert s.hailo.group_id == "ENV"
    # The env var for one nested key does not wipe the file's other nested keys.
    assert s.hailo.device == Path("/dev/hailo7")


def test_explicit_overrides_beat_env_and_file(tmp_path, monkeypatch):
    path = write(tmp_path, "port: 12345\nengine: hailo\n")
    monkeypatch.setenv("HAILO_OLLAMA_PORT", "23456")
    s = OllamaSettings.load(path, port=34567, engine="cpu")
    assert s.port == 34567
    assert s.engine == "cpu"


def test_none_overrides_are_ignored(tmp_path, monkeypatch):
    """The CLI passes None for flags that were not given; they must not mask file or env."""
    path = write(tmp_path, "port: 12345\n")
    monkeypatch.setenv("HAILO_OLLAMA_ENGINE", "cpu")
    s = OllamaSettings.load(path, host=None, port=None, engine=None)
    assert s.port == 12345
    assert s.engine == "cpu"


def test_env_of_other_service_is_ignored(monkeypatch):
    monkeypatch.setenv("PORT", "1")
    monkeypatch.setenv("HAILO_WHISPER_PORT", "2")
    assert OllamaSettings.load().port == 0


def test_concurrent_loads_do_not_share_yaml(tmp_path):
    a = OllamaSettings.load(write(tmp_path, "port: 1111\n", "a.yaml"))
    b = OllamaSettings.load(write(tmp_path, "port: 2222\n", "b.yaml"))
    c = OllamaSettings.load()
    assert (a.port, b.port, c.port) == (1111, 2222, 0)


# -- errors ------------------------------------------------------------------------------------


def test_unknown_key_is_named(tmp_path):
    path = write(tmp_path, "port: 1\nmodle: smollm2\n")
    with pytest.raises(ConfigError) as info:
        OllamaSettings.load(path)
    msg = str(info.value)
    assert "unknown setting 'modle'" in msg
    assert str(path) in msg


def test_unknown_nested_key_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown setting 'hailo\.group'"):
        OllamaSettings.load(write(tmp_path, "hailo:\n  group: X\n"))


def test_unknown_env_style_override_is_rejected():
    with pytest.raises(ConfigError, match="unknown setting 'bogus'"):
        OllamaSettings.load(bogus=1)


@pytest.mark.parametrize(
    ("text", "key", "shown"),
    [
        ("port: abc\n", "port", "'abc'"),
        ("port: 70000\n", "port", "70000"),
        ("num_ctx: 10\n", "num_ctx", "10"),
        ("engine: gpu\n", "engine", "'gpu'"),
        ("preload: maybe\n", "preload", "'maybe'"),
        ("queue_timeout_s: 0\n", "queue_timeout_s", "0"),
    ],
)
def test_bad_type_names_key_and_value(tmp_path, text, key, shown):
    with pytest.raises(ConfigError) as info:
        OllamaSettings.load(write(tmp_path, text))
    msg = str(info.value)
    assert f"invalid value for '{key}'" in msg
    assert f"(got {shown})" in msg


def test_bad_env_value_names_key(monkeypatch):
    monkeypatch.setenv("HAILO_OLLAMA_PORT", "eleven")
    with pytest.raises(ConfigError, match=r"invalid value for 'port'.*'eleven'"):
        OllamaSettings.load()


def test_every_error_is_listed(tmp_path):
    with pytest.raises(ConfigError) as info:
        OllamaSettings.load(write(tmp_path, "port: abc\nfoo: 1\n"))
    lines = str(info.value).splitlines()
    assert len(lines) == 2
    assert any("'port'" in line for line in lines) and any("'foo'" in line for line in lines)


def test_unknown_model_rejected_with_the_list(tmp_path):
    with pytest.raises(ConfigError) as info:
        OllamaSettings.load(write(tmp_path, "model: gpt-5\n"))
    msg = str(info.value)
    assert "invalid value for 'model'" in msg
    assert "unknown model 'gpt-5'" in msg
    for name in load_catalog():
        assert name in msg


@pytest.mark.parametrize("value", ["5x", "soon", "'1h-5m'", "''"])
def test_bad_keep_alive_rejected(tmp_path, value):
    with pytest.raises(ConfigError, match="invalid value for 'keep_alive'"):
        OllamaSettings.load(write(tmp_path, f"keep_alive: {value}\n"))


@pytest.mark.parametrize("value", ["true", "false", "yes"])
def test_boolean_keep_alive_rejected(tmp_path, value):
    with pytest.raises(ConfigError, match="invalid value for 'keep_alive'"):
        OllamaSettings.load(write(tmp_path, f"keep_alive: {value}\n"))


@pytest.mark.parametrize("value", ["5m", "1h30m", "0", "-1", "300"])
def test_good_keep_alive_accepted(tmp_path, value):
    assert OllamaSettings.load(write(tmp_path, f"keep_alive: {value}\n")).keep_alive is not None


def test_yaml_list_is_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"top level must be a mapping.*list"):
        OllamaSettings.load(write(tmp_path, "- port: 1\n- host: x\n"))


def test_yaml_scalar_is_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"top level must be a mapping.*str"):
        OllamaSettings.load(write(tmp_path, "just a string\n"))


def test_invalid_yaml_is_config_error(tmp_path):
    path = write(tmp_path, "port: [1, 2\nhost: x\n")
    with pytest.raises(ConfigError, match="not valid YAML") as info:
        OllamaSettings.load(path)
    assert str(path) in str(info.value)


def test_missing_file_is_config_error(tmp_path):
    path = tmp_path / "absent.yaml"
    with pytest.raises(ConfigError, match="cannot read config file") as info:
        OllamaSettings.load(path)
    assert str(path) in str(info.value)


def test_directory_is_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file"):
        read_yaml(tmp_path)

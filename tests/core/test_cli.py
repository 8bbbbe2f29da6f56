"""The hailo-services CLI, run as a real subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hailo_services import __version__
from harness import clean_env, free_port

CLI = [sys.executable, "-m", "hailo_services.cli"]


def run_cli(*args: str, timeout: float = 60, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=timeout, env=clean_env(env), check=False
    )


@pytest.fixture
def good_yaml(tmp_path: Path) -> Path:
    path = tmp_path / "good.yaml"
    path.write_text("port: 12345\nengine: cpu\nmodel: smollm2\nkeep_alive: 10m\n", encoding="utf-8")
    return path


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "hailo-services"
    assert script.is_file()
    proc = subprocess.run(
        [str(script), "--version"], capture_output=True, text=True, timeout=60, env=clean_env(), check=False
    )
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"hailo-services {__version__}"


def test_check_config_good(good_yaml):
    proc = run_cli("check-config", "hailo-ollama", str(good_yaml))
    assert proc.returncode == 0, proc.stderr
    assert f"{good_yaml}: valid hailo-ollama configuration (port 12345, engine cpu)" in proc.stdout
    assert proc.stderr == ""


def test_check_config_accepts_short_service_name(good_yaml):
    proc = run_cli("check-config", "ollama", str(good_yaml))
    assert proc.returncode == 0, proc.stderr


def test_check_config_bad_key(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("port: 12345\nmax_waiting: 3\n", encoding="utf-8")
    proc = run_cli("check-config", "hailo-ollama", str(path))
    assert proc.returncode != 0
    assert "max_waiting" in proc.stderr
    assert "unknown setting" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "valid" not in proc.stdout


def test_check_config_missing_file(tmp_path):
    proc = run_cli("check-config", "hailo-ollama", str(tmp_path / "nope.yaml"))
    assert proc.returncode != 0
    assert "cannot read config file" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_check_config_applies_env_overrides(good_yaml):
    proc = run_cli("check-config", "hailo-ollama", str(good_yaml), env={"HAILO_OLLAMA_PORT": "2345"})
    assert proc.returncode == 0, proc.stderr
    assert "(port 2345," in proc.stdout  # the environment overrides the file, as at run time


def test_list():
    proc = run_cli("list")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["service", "port", "engines"]
    row = next(line for line in lines if line.startswith("hailo-ollama"))
    assert row.split()[1] == "11434"
    assert "cpu (" in row and "hailo (" in row
    piper = next(line for line in lines if line.startswith("hailo-piper"))
    assert "no NPU engine" in piper and "hailo (" not in piper  # services.yaml npu: false


@pytest.mark.parametrize("args", [("run", "nope"), ("check-config", "nope", "x.yaml")])
def test_unknown_service_exits_2(args):
    proc = run_cli(*args)
    assert proc.returncode == 2
    assert "unknown service 'nope'" in proc.stderr
    assert "hailo-ollama" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unknown_command_exits_2():
    proc = run_cli("frobnicate")
    assert proc.returncode == 2
    assert "invalid choice" in proc.stderr


def test_run_with_invalid_config_exits_2(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("porrt: 1\n", encoding="utf-8")
    proc = run_cli("run", "hailo-ollama", "--config", str(path), "--port", str(free_port()), timeout=60)
    assert proc.returncode == 2
    assert "hailo-ollama: invalid configuration" in proc.stderr
    assert "porrt" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_run_with_invalid_env_exits_2():
    proc = run_cli("run", "hailo-ollama", env={"HAILO_OLLAMA_NUM_CTX": "lots"})
    assert proc.returncode == 2
    assert "num_ctx" in proc.stderr and "'lots'" in proc.stderr


def test_run_hailo_engine_without_npu_exits_2(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(f"hailo:\n  device: {tmp_path / 'no-hailo0'}\n", encoding="utf-8")
    proc = run_cli("run", "hailo-ollama", "--config", str(path), "--engine", "hailo", "--port", str(free_port()))
    assert proc.returncode == 2
    assert "engine 'hailo' was requested but the NPU cannot be used" in proc.stderr
    assert "Traceback" not in proc.stderr

"""tools/pi-wheels: every dependency and extra installs on a Pi 5 (aarch64, CPython 3.13) from wheels.

The real check asks PyPI, so it runs only with HAILO_PI_WHEELS=1 (it takes 10-20 s, and the first run
downloads ~300 MB into its cache). The tests of how it reads pyproject.toml and pip's errors run always.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

TOOL = Path(__file__).resolve().parents[2] / "tools" / "pi-wheels"
# Taken at import, before the autouse fixture scrubs proxy variables: pip needs them to reach PyPI
# where a proxy is the way out.
_HOST_ENV = dict(os.environ)


def _load_tool() -> ModuleType:
    # The tool is a script without .py, so it needs an explicit loader.
    loader = importlib.machinery.SourceFileLoader("pi_wheels", str(TOOL))
    spec = importlib.util.spec_from_loader("pi_wheels", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["pi_wheels"] = module  # dataclasses look their module up while the class is created
    loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tool() -> ModuleType:
    return _load_tool()


def test_checks_follow_pyproject(tool: ModuleType, tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        """
[project]
name = "Demo_Pkg"
version = "0"
dependencies = ["numpy>=1.26"]
[project.optional-dependencies]
a = ["onnxruntime>=1.20"]
b = ["demo-pkg[a]", "httpx"]
dev = ["pytest"]
"""
    )
    (tmp_path / "requirements-models.txt").write_text("# weights\nsome-model==1\n")
    checks = {c.name: c for c in tool.load_checks(tmp_path)}
    assert list(checks) == ["base", "a", "b", "models"]  # dev is never installed on a Pi
    assert checks["base"].requirements == ["numpy>=1.26"]
    assert checks["a"].requirements == ["numpy>=1.26", "onnxruntime>=1.20"]
    # The project's own name is replaced by the extra it names: it has no aarch64 wheel to download.
    assert checks["b"].requirements == ["numpy>=1.26", "onnxruntime>=1.20", "httpx"]
    assert checks["models"].no_deps and checks["models"].requirement_file == tmp_path / "requirements-models.txt"
    assert [c.name for c in tool.load_checks(tmp_path, ["b"])] == ["base", "b"]
    with pytest.raises(SystemExit, match="no such extra: dev"):
        tool.load_checks(tmp_path, ["dev"])


def test_repo_checks_cover_every_extra_but_dev(tool: ModuleType) -> None:
    names = [c.name for c in tool.load_checks(TOOL.parents[1])]
    assert names[0] == "base" and names[-1] == "models"
    assert "dev" not in names and {"ollama", "detect", "pose"} <= set(names)


def test_pip_runs_without_local_config(tool: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIP_FIND_LINKS", "/opt/wheels")
    monkeypatch.setenv("PIP_CONSTRAINT", "/etc/xdg/pip/constraints.txt")
    monkeypatch.setenv("PIP_CERT", "/etc/ssl/certs/ca-certificates.crt")
    env = tool.pip_env()
    assert env["PIP_CONFIG_FILE"] == os.devnull
    assert "PIP_FIND_LINKS" not in env and "PIP_CONSTRAINT" not in env
    assert env["PIP_CERT"] == "/etc/ssl/certs/ca-certificates.crt"  # transport only: kept


def test_reason_is_pips_own(tool: ModuleType) -> None:
    proc = subprocess.CompletedProcess(
        [],
        1,
        stdout="Collecting numpy\n\nThe conflict is caused by:\n    The user requested numpy>=1.26\n"
        "    The user requested numpy<1.26\n\nTo fix this you could try to:\n",
        stderr="ERROR: Cannot install numpy<1.26 and numpy>=1.26 because these package versions have "
        "conflicting dependencies.\nERROR: ResolutionImpossible: for help visit https://pip.pypa.io\n",
    )
    assert tool._reason(proc) == [
        "Cannot install numpy<1.26 and numpy>=1.26 because these package versions have conflicting dependencies.",
        "The conflict is caused by:",
        "  The user requested numpy>=1.26",
        "  The user requested numpy<1.26",
    ]


@pytest.mark.skipif(os.environ.get("HAILO_PI_WHEELS") != "1", reason="asks PyPI: set HAILO_PI_WHEELS=1")
def test_every_extra_has_pi_wheels() -> None:
    proc = subprocess.run(
        [sys.executable, str(TOOL)], capture_output=True, text=True, timeout=1800, env=_HOST_ENV, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr

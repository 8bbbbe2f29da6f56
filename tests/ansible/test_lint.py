"""ansible-lint (production profile, from .ansible-lint) and yamllint over the deployment code."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _tool(name: str) -> str:
    found = Path(sys.executable).with_name(name)
    path = str(found) if found.exists() else shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (pip install -r requirements-test.txt)")
    return path


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "PY_COLORS": "0", "ANSIBLE_FORCE_COLOR": "0"}
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)


def test_ansible_lint_production_profile():
    result = _run(_tool("ansible-lint"), "--offline")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "Profile 'production' was required, and it passed" in output


def test_yamllint():
    result = _run(_tool("yamllint"), "--strict", ".")
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]

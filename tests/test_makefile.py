"""The Makefile's Quick start commands, dry-run (`make -n`): what they print before doing anything."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_it_finds_a_python_without_printing_a_shims_complaint(tmp_path):
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    # What pyenv puts on PATH for a version that isn't installed: a shim that complains and fails.
    shims = tmp_path / "shims"
    shims.mkdir()
    shim = shims / "python3.13"
    shim.write_text("#!/bin/sh\necho 'pyenv: python3.13: command not found' >&2\nexit 127\n")
    shim.chmod(0o755)
    env = {**os.environ, "PATH": f"{shims}:{os.environ['PATH']}"}
    env.pop("PYTHON", None)
    result = subprocess.run(["make", "-n", "test", f"VENV={tmp_path / 'venv'}"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "-m venv" in result.stdout and "python3.13" not in result.stdout

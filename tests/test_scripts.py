"""The Quickstart scripts find a Python >= 3.12 themselves, or say clearly that there is none."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _find_python(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/bin/bash", "-c", ". scripts/_common.sh; find_python"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_it_finds_a_recent_python(tmp_path):
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "RECOUP_PYTHON": sys.executable}
    result = _find_python(env)
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()).exists()


def test_it_explains_when_there_is_no_python_312(tmp_path):
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    old = fake_bin / "python3"
    old.write_text("#!/bin/sh\nexit 1\n")  # a python3 that is "too old"
    old.chmod(0o755)
    env = {
        "PATH": f"{fake_bin}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "PYENV_ROOT": str(tmp_path / "none"),
    }
    result = _find_python(env)
    if result.returncode == 0 and result.stdout.strip().startswith("/usr/bin"):
        return  # this machine's system Python is itself >= 3.12: nothing to refuse
    assert result.returncode == 1
    assert "Python 3.12 or newer" in result.stderr
    assert "RECOUP_PYTHON" in result.stderr

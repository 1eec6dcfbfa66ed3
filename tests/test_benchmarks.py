"""Every benchmark script still imports and parses its arguments: ``--help`` exits 0 with usage.

The benchmarks are not part of the package, so nothing else notices when a refactor moves a
name they import; this runs each one as a user would, in a fresh interpreter.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = sorted((ROOT / "benchmarks").glob("*.py"))


def test_there_are_benchmarks() -> None:
    assert SCRIPTS


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_benchmark_help(script: Path) -> None:
    out = subprocess.run(
        [sys.executable, str(script), "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, f"{script.name} --help failed:\n{out.stderr[-4000:]}"
    assert "usage:" in out.stdout, f"{script.name} --help printed no usage:\n{out.stdout[-2000:]}"

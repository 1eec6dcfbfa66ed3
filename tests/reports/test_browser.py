"""Open the report in headless Chromium: the DOM has the leaderboard, no console error, a real screenshot.

Console errors are read from Chromium's own log instead of injecting a script into the page:
``--enable-logging=stderr --v=0`` writes every ``console.*`` message and uncaught exception to
stderr as ``INFO:CONSOLE... "Uncaught ..."`` lines. A positive control (a page with a deliberate
error) proves the grep would catch one with this Chromium build before the report is judged.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import optuna
import pytest

from promptsearch.reports import Leaderboard, write_report


def _chromium() -> str | None:
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    return shutil.which("chromium") or shutil.which("chromium-browser")


CHROMIUM = _chromium()
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed: apt-get install chromium")

_CONSOLE = re.compile(r"Uncaught|:CONSOLE[:(]|console", re.I)


def _run(page: Path, tmp: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        *extra,
        page.resolve().as_uri(),
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


def _console_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if _CONSOLE.search(line)]


def test_console_errors_are_detectable(tmp_path: Path) -> None:
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><html><body><p>x</p><script>undefinedFn();</script></body></html>")
    result = _run(bad, tmp_path, "--dump-dom")
    assert any("Uncaught" in line for line in _console_lines(result.stderr)), result.stderr[-2000:]


def test_report_opens_in_chromium(study: optuna.Study, board: Leaderboard, tmp_path: Path) -> None:
    html = write_report(study, board, tmp_path / "out")["html"]
    dom = _run(html, tmp_path, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert 'id="leaderboard-table"' in dom.stdout and 'id="history-chart"' in dom.stdout
    assert dom.stdout.count("<tr>") >= len(board.rows) + 1
    assert "<script>alert(1)</script>" not in dom.stdout  # still text after parsing
    assert _console_lines(dom.stderr) == []

    shot = tmp_path / "shot.png"
    result = _run(html, tmp_path, f"--screenshot={shot}", "--window-size=1280,2000")
    assert result.returncode == 0, result.stderr[-2000:]
    assert shot.is_file() and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 20_000  # a blank 1280x2000 page compresses to a few KB
    assert _console_lines(result.stderr) == []
